// The shard jobs of a cluster run, in the run folder of a `distill run` with the same options:
// recover shard i writes shards/recover-NNNN.npy (its images, in plan order) and then its
// record shards/recover-NNNN.json; relabel shard j writes the label-table shard
// shards/relabel-NNNN.dlt and its record; merge assembles images.npy, images/, grid.png,
// images.dpk (below 8 bits per pixel), recover.json, labels.dlt and manifest.json exactly as
// `distill run` writes them. Every output is written under a temporary name and renamed; the
// record, written last, holds the shard's key (config, teacher, inputs) and the output's SHA-256,
// so a shard whose record and output still match is skipped: a rerun (a retried array task, a
// resubmitted job) resumes.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readNpy, writeNpy } from "../../io/npy.ts";
import { encodePlanarPng } from "../../io/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../io/atomic-write.ts";
import { recover } from "../../stages/recover.ts";
import { relabel } from "../../stages/relabel.ts";
import { zooTeacher } from "../../stages/teacher-file.ts";
import type { ImageSet } from "../../stages/crops.ts";
import { mergeLabelTableShards } from "../../../shared/label-table/index.ts";
import { RUN_ONLY_CHOICES } from "../../../shared/cluster-plan.ts";
import type { Pipeline } from "../pipeline.ts";
import { canonicalJson, fingerprintFolder, sha256 } from "../run-folder.ts";
import { pixelBytes } from "../student-cache.ts";
import { recoverShardPlan, relabelShardPlan, type Range, type RecoverShard } from "./shard-plan.ts";
import type { EdgeApi } from "./edge-api.ts";
import type { GateCandidate, GateResult } from "../../stages/recover-gate.ts";

export type ShardOutcome = "ran" | "skipped";

/** The gate's decision (shards/gate.json): as recover.json of `distill run` holds it, plus its key and gate.npy's SHA-256. */
interface GateRecord extends Pick<GateResult, "scores" | "z" | "kept"> {
  key: string;
  sha256: string;
  students: Partial<Record<GateCandidate, string>>;
}

/** The images relabel and merge take, recover's per-batch losses, and the gate's decision where there is a gate. */
interface KeptImages {
  set: ImageSet;
  batches: unknown[];
  gate?: GateRecord;
}

interface ShardRecord {
  key: string;
  sha256: string;
  start: number;
  end: number;
  /** recover: image indices of the npy's rows and per-batch losses. */
  images?: number[];
  batches?: unknown[];
}

const pad = (i: number) => String(i).padStart(4, "0");

export class ClusterShards {
  private kept?: Promise<KeptImages>;

  constructor(
    readonly p: Pipeline,
    readonly recoverShards: number,
    readonly relabelShards: number,
  ) {
    // the gate's tasks are one per candidate named at launch, before a screen could choose the draws
    if (p.o.gateScreen > 0)
      throw new Error(
        "--gate-screen chooses the gate's draws at run time, and a cluster run's gate tasks are fixed at launch: drop --gate-screen, or use `distill run`",
      );
    // a launch names the gate's tasks before auto has chosen a depth, and under --select random
    // the names depend on it (shared/gate-candidates.ts): such a run keeps 8-bit images
    if (p.o.init === "real" && p.o.select === "random" && p.o.recoverGate)
      p.useEightBits("--select random in a cluster run: the gate's tasks are named at launch, for 8-bit images");
    const runOnly = RUN_ONLY_CHOICES["--select"][p.o.select];
    if (p.o.init === "real" && runOnly)
      throw new Error(`--select ${p.o.select} ${runOnly}: use \`distill run\` for it, or another --select`);
  }

  private log(msg: string): void {
    if (!this.p.o.quiet) process.stderr.write(`${msg}\n`);
  }

  /** The run's depth, decided as `distill run` decides it (auto: the teacher on held-out images), once per process. */
  private async ready(): Promise<void> {
    await this.p.resolveImageBits();
  }

  /** Recover shards: batches of --ipc images per class, 8 / b times that below 8 bits. */
  recoverPlan(): RecoverShard[] {
    const t = this.p.teacher();
    return recoverShardPlan(
      { classes: t.classes, ipc: this.p.perClass, recoverBatch: this.p.o.recoverBatch },
      this.recoverShards,
    );
  }

  /** Relabel shards: epoch ranges of the kept images' table (fewer epochs for more images: as many crops as (b)'s). */
  relabelPlan(set: ImageSet): Range[] {
    return relabelShardPlan(this.p.labelEpochsOf(set.count), this.relabelShards);
  }

  path(stage: "recover" | "relabel", i: number, ext: string): string {
    return this.p.run.path("shards", `${stage}-${pad(i)}.${ext}`);
  }

  /** The gate's decision: the kept images (npy) and its record (json). */
  private gatePath(ext: string): string {
    return this.p.run.path("shards", `gate.${ext}`);
  }

  private checkIndex(stage: "recover" | "relabel", i: number, count: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < count))
      throw new Error(`${stage} shard ${i} does not exist: the plan has ${count} (indices 0..${count - 1})`);
  }

  /** The record of a shard whose output still matches it and whose key is `key`; else undefined. */
  private verified(stage: "recover" | "relabel", i: number, ext: string, key: string): ShardRecord | undefined {
    return verifiedRecord(this.path(stage, i, "json"), this.path(stage, i, ext), key);
  }

  /** Gate task k: the student of the gate's k-th candidate image set, trained into the run's student cache. */
  async gateShard(k: number): Promise<ShardOutcome> {
    await this.ready();
    if (!this.p.gate.applies()) {
      this.log(
        `gate task ${k}: this run has no recover gate (--no-recover-gate, --init other than real, or no training image left to score on)`,
      );
      return "skipped";
    }
    const names = this.p.gate.candidates();
    if (!(Number.isInteger(k) && k >= 0 && k < names.length))
      throw new Error(
        `gate task ${k} does not exist: the gate has ${names.length} candidates (${names.join(", ")}; indices 0..${names.length - 1})`,
      );
    const { set } = this.assembleImages();
    const start = await this.p.start.images();
    const outcome = await this.p.gate.student(names[k], start!, set.pixels);
    this.log(
      `gate task ${k}: the student of the ${names[k]} images ${outcome === "ran" ? "trained" : "is up to date"}`,
    );
    return outcome;
  }

  /**
   * The images relabel and merge take: the recovered ones, or, where the run has a gate, the set it
   * kept, decided once from the gate tasks' students and recorded (shards/gate.npy, then gate.json
   * with its key and the npy's SHA-256) so later shards read the decision instead of remaking it.
   */
  keptImages(): Promise<KeptImages> {
    // once per process: a relabel shard that publishes reads them again
    this.kept ??= this.readOrDecideKept();
    return this.kept;
  }

  private async readOrDecideKept(): Promise<KeptImages> {
    await this.ready();
    const { set, batches } = this.assembleImages();
    if (!this.p.gate.applies()) return { set, batches };
    // the recover shards' keys name the teacher, the data and recover's config
    const recoverKeys = this.recoverPlan().map((_, i) => this.recoverKey(i));
    const key = sha256(canonicalJson({ gate: this.p.gate.config(), recoverKeys, recovered: sha256(pixelBytes(set)) }));
    const npy = this.gatePath("npy");
    let record = verifiedRecord(this.gatePath("json"), npy, key) as GateRecord | undefined;
    if (!record) {
      const start = await this.p.start.images();
      const names = this.p.gate.candidates();
      const g = await this.p.gate.run(
        start!,
        set.pixels,
        (name) =>
          new Error(
            `the recover gate has no student of the ${name} images in ${this.p.run.path("students")}: run \`distill shard gate --index ${names.indexOf(name)}\` (with the same options) first`,
          ),
      );
      // the gate may keep (b)'s --ipc 8-bit images where the start and recovered sets hold more
      const kept = g.pixels.length / (set.channels * set.size * set.size);
      writeNpy(npy, { data: g.pixels, shape: [kept, set.channels, set.size, set.size] });
      record = { key, sha256: sha256(readFileSync(npy)), scores: g.scores, z: g.z, kept: g.kept, students: g.students };
      writeJsonAtomic(this.gatePath("json"), record);
    }
    const t = readNpy(npy);
    return { set: { ...set, pixels: t.data as Float32Array, count: t.shape[0] }, batches, gate: record };
  }

  private recoverKey(i: number): string {
    const o = this.p.o;
    const { start, end } = this.recoverPlan()[i];
    return sha256(
      canonicalJson({
        stage: "recover",
        config: this.p.recoverConfig(),
        data: o.init === "noise" ? undefined : [o.data ? fingerprintFolder(o.data) : "mnist", o.resolution],
        select: o.init === "real" && o.select !== "random" ? [o.select, o.selectFrom] : undefined,
        teacher: sha256(this.p.teacher().bytes),
        batches: [start, end],
      }),
    );
  }

  async recoverShard(i: number): Promise<ShardOutcome> {
    await this.ready();
    const plan = this.recoverPlan();
    this.checkIndex("recover", i, plan.length);
    if (this.p.recoverConfig().compete)
      throw new Error(
        "--r-compete needs the student of the starting images before recover starts, and a cluster run trains the gate's students after its recover shards: drop --r-compete, or use `distill run`",
      );
    const key = this.recoverKey(i);
    if (this.verified("recover", i, "npy", key)) {
      this.log(`recover shard ${i}: up to date`);
      return "skipped";
    }
    const { start, end, images } = plan[i];
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    const K = tf.classes;
    if (K !== this.p.data.train.classes.length && this.p.o.init !== "noise")
      throw new Error(`the teacher has ${K} classes, the data ${this.p.data.train.classes.length}`);
    const source = zooTeacher(tf) ?? { kind: "onnx" as const, bytes: tf.bytes, file: tf.file };
    const r = await recover(
      { source, classes: K, channels: C, size: H, stats: this.p.teacherStats() },
      this.p.recoverConfig(),
      await this.p.start.images(),
      this.p.compile,
      { start, end },
    );
    const per = C * H * H;
    const mine = new Float32Array(images.length * per);
    images.forEach((img, k) => mine.set(r.pixels.subarray(img * per, (img + 1) * per), k * per));
    // recover moves the (quantised) start freely; what is stored is at the run's depth again
    const stored = this.p.atRunDepth(mine);
    const npy = this.path("recover", i, "npy");
    writeNpy(npy, { data: stored, shape: [images.length, C, H, H] });
    const record: ShardRecord = { key, sha256: sha256(readFileSync(npy)), start, end, images, batches: r.batches };
    writeJsonAtomic(this.path("recover", i, "json"), record);
    this.log(`recover shard ${i}: batches ${start}..${end - 1}, ${images.length} images`);
    return "ran";
  }

  /** All synthetic images from the recover shards (each verified), and the per-batch losses in plan order. */
  assembleImages(): { set: ImageSet; batches: unknown[] } {
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    const N = tf.classes * this.p.perClass;
    const per = C * H * H;
    const pixels = new Float32Array(N * per);
    const batches: unknown[] = [];
    const plan = this.recoverPlan();
    for (let i = 0; i < plan.length; i++) {
      const rec = this.verified("recover", i, "npy", this.recoverKey(i));
      if (!rec)
        throw new Error(
          `recover shard ${i} has no verified output in ${this.p.run.path("shards")}: run \`distill shard recover --index ${i}\` (with the same options) first`,
        );
      const t = readNpy(this.path("recover", i, "npy"));
      const data = t.data as Float32Array;
      rec.images!.forEach((img, k) => pixels.set(data.subarray(k * per, (k + 1) * per), img * per));
      batches.push(...rec.batches!);
    }
    return { set: { pixels, count: N, channels: C, size: H }, batches };
  }

  private relabelConfig(j: number, set: ImageSet) {
    const { start, end } = this.relabelPlan(set)[j];
    return { ...this.p.relabelConfig(this.p.runId(), set.count), epochStart: start, epochCount: end - start };
  }

  private relabelKey(j: number, set: ImageSet): string {
    return sha256(
      canonicalJson({
        stage: "relabel",
        config: this.relabelConfig(j, set),
        teacher: sha256(this.p.teacher().bytes),
        images: sha256(pixelBytes(set)),
      }),
    );
  }

  async relabelShard(j: number): Promise<ShardOutcome> {
    const { set } = await this.keptImages();
    this.checkIndex("relabel", j, this.relabelPlan(set).length);
    const key = this.relabelKey(j, set);
    if (this.verified("relabel", j, "dlt", key)) {
      this.log(`relabel shard ${j}: up to date`);
      return "skipped";
    }
    const tf = this.p.teacher();
    const cfg = this.relabelConfig(j, set);
    const r = await relabel(tf.bytes, this.p.teacherStats(), set, tf.classes, cfg, {
      ...this.p.compile,
      label: `relabel ${j}`,
    });
    const dlt = this.path("relabel", j, "dlt");
    writeFileAtomic(dlt, r.table);
    const record: ShardRecord = {
      key,
      sha256: sha256(r.table),
      start: cfg.epochStart,
      end: cfg.epochStart + cfg.epochCount,
    };
    writeJsonAtomic(this.path("relabel", j, "json"), record);
    this.log(`relabel shard ${j}: epochs ${record.start}..${record.end - 1}, ${r.table.length} B`);
    return "ran";
  }

  /** The run folder's images and label table from the verified shards, as `distill run` writes them. */
  async merge(): Promise<void> {
    const { set, batches, gate } = await this.keptImages();
    const tables: Uint8Array[] = [];
    for (let j = 0; j < this.relabelShards; j++) {
      if (!this.verified("relabel", j, "dlt", this.relabelKey(j, set)))
        throw new Error(
          `relabel shard ${j} has no verified output in ${this.p.run.path("shards")}: run \`distill shard relabel --index ${j}\` first`,
        );
      tables.push(new Uint8Array(readFileSync(this.path("relabel", j, "dlt"))));
    }
    const table = mergeLabelTableShards(tables);
    this.p.writeRecovered(set.pixels, {
      batches,
      gate: gate && { scores: gate.scores, z: gate.z, kept: gate.kept, students: gate.students },
    });
    writeFileAtomic(this.p.run.path("labels.dlt"), table);
    writeJsonAtomic(this.p.run.path("manifest.json"), this.p.manifest(this.p.runId(), this.p.teacher().classes, set));
    this.log(
      `merge: ${set.count} images, ${this.relabelShards} table shards → labels.dlt (${table.length} B) in ${join(this.p.run.dir)}`,
    );
  }

  // Stream back (with --edge): each shard publishes what it made as soon as it is made, through
  // the edge's ordinary upload routes (sha256-checked, atomic publish; the same bytes again are
  // "unchanged", so a rerun publishes nothing twice).

  /**
   * The run's manifest (after squeeze: it names the teacher), created on the edge for the launch.
   * Below 8 bits a gate may keep (b)'s --ipc 8-bit images instead of 8 / b times as many: the
   * image count, and with it the manifest, waits for the gate's decision (publishKept sends it).
   */
  async publishManifest(api: EdgeApi): Promise<void> {
    await this.ready();
    if (this.p.imageBits < 8 && this.p.gate.applies()) {
      this.log("manifest: published with the images the recover gate keeps (their count is in it)");
      return;
    }
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    await this.publishManifestOf(api, {
      pixels: new Float32Array(0),
      count: tf.classes * this.p.perClass,
      channels: C,
      size: H,
    });
  }

  private async publishManifestOf(api: EdgeApi, set: ImageSet): Promise<void> {
    const m = this.p.manifest(this.p.runId(), this.p.teacher().classes, set);
    await api.call("PUT", `/v1/launches/${m.runId}/manifest`, m);
    this.log(`manifest of run ${m.runId} published (${set.count} images)`);
  }

  /**
   * Recover shard i's images, as the PNGs merge writes to images/. Where the run has a gate, the
   * images are not final until it decides: the first relabel shard to publish sends them instead.
   */
  async publishRecover(i: number, api: EdgeApi): Promise<void> {
    await this.ready();
    const rec = this.verified("recover", i, "npy", this.recoverKey(i));
    if (!rec) throw new Error(`recover shard ${i} has no verified output to publish`);
    if (this.p.gate.applies()) {
      this.log(`recover shard ${i}: images published after the recover gate's decision`);
      return;
    }
    const t = readNpy(this.path("recover", i, "npy"));
    await this.publishImages(api, t.data as Float32Array, t.shape, rec.images!);
    this.log(`recover shard ${i}: ${rec.images!.length} images published`);
  }

  /** The set the gate kept (once per run: a marker records it; a second sender's PUTs are "unchanged"). */
  private async publishKept(api: EdgeApi): Promise<void> {
    const marker = this.gatePath("published");
    const { set, gate } = await this.keptImages();
    if (existsSync(marker) && readFileSync(marker, "utf8") === gate!.sha256) return;
    if (this.p.imageBits < 8) await this.publishManifestOf(api, set);
    const shape = [set.count, set.channels, set.size, set.size];
    await this.publishImages(
      api,
      set.pixels,
      shape,
      Array.from({ length: set.count }, (_, k) => k),
    );
    writeFileAtomic(marker, gate!.sha256);
    this.log(`recover gate: the ${set.count} images it kept (${gate!.kept}) published`);
  }

  /** Rows of `data` (N × C × H × W) as the PNGs of images `images[k]`, four uploads at a time. */
  private async publishImages(api: EdgeApi, data: Float32Array, shape: number[], images: number[]): Promise<void> {
    const [, C, H, W] = shape;
    const per = C * H * W;
    let next = 0;
    const worker = async () => {
      while (next < images.length) {
        const k = next++;
        const png = encodePlanarPng({ data: data.subarray(k * per, (k + 1) * per), channels: C, height: H, width: W });
        await api.call("PUT", `/v1/runs/${this.p.runId()}/images/${images[k]}`, png);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  }

  /** Relabel shard j's table shard, published as shard number j. */
  async publishRelabel(j: number, api: EdgeApi): Promise<void> {
    if (this.p.gate.applies()) await this.publishKept(api);
    const dlt = this.path("relabel", j, "dlt");
    const rec = JSON.parse(readFileSync(this.path("relabel", j, "json"), "utf8")) as ShardRecord;
    const bytes = new Uint8Array(readFileSync(dlt));
    if (sha256(bytes) !== rec.sha256) throw new Error(`relabel shard ${j} changed since it was written: run it again`);
    await api.call("PUT", `/v1/runs/${this.p.runId()}/tables/${j}`, bytes);
    this.log(`relabel shard ${j}: epochs ${rec.start}..${rec.end - 1} published`);
  }
}

/** The record at `recordPath` if its key is `key` and the output still has the SHA-256 it holds. */
function verifiedRecord(recordPath: string, outPath: string, key: string): ShardRecord | undefined {
  if (!existsSync(recordPath) || !existsSync(outPath)) return undefined;
  const r = JSON.parse(readFileSync(recordPath, "utf8")) as ShardRecord;
  if (r.key !== key || sha256(readFileSync(outPath)) !== r.sha256) return undefined;
  return r;
}
