// The shard jobs of a cluster run, in the run folder of a `distill run` with the same options:
// recover shard i writes shards/recover-NNNN.npy (its images, in plan order) and then its
// record shards/recover-NNNN.json; relabel shard j writes the label-table shard
// shards/relabel-NNNN.dlt and its record; merge assembles images.npy, images/, grid.png,
// recover.json, labels.dlt and manifest.json exactly as `distill run` writes them. Every output
// is written under a temporary name and renamed; the record, written last, holds the shard's
// key (config, teacher, inputs) and the output's SHA-256, so a shard whose record and output
// still match is skipped: a rerun (a retried array task, a resubmitted job) resumes.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readNpy, writeNpy } from "../../io/npy.ts";
import { encodePlanarPng, writeGridPng } from "../../io/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../io/atomic-write.ts";
import { recover } from "../../stages/recover.ts";
import { relabel } from "../../stages/relabel.ts";
import { zooTeacher } from "../../stages/teacher-file.ts";
import type { ImageSet } from "../../stages/crops.ts";
import { mergeLabelTableShards } from "../../../shared/label-table/index.ts";
import type { Pipeline } from "../pipeline.ts";
import { canonicalJson, fingerprintFolder, sha256 } from "../run-folder.ts";
import { shardPlan, type ShardPlan } from "./shard-plan.ts";
import type { EdgeApi } from "./edge-api.ts";

export type ShardOutcome = "ran" | "skipped";

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
  constructor(
    readonly p: Pipeline,
    readonly recoverShards: number,
    readonly relabelShards: number,
  ) {}

  private log(msg: string): void {
    if (!this.p.o.quiet) process.stderr.write(`${msg}\n`);
  }

  plan(): ShardPlan {
    const t = this.p.teacher();
    return shardPlan(
      { classes: t.classes, ipc: this.p.o.ipc, recoverBatch: this.p.o.recoverBatch, epochs: this.p.epochs },
      this.recoverShards,
      this.relabelShards,
    );
  }

  path(stage: "recover" | "relabel", i: number, ext: string): string {
    return this.p.run.path("shards", `${stage}-${pad(i)}.${ext}`);
  }

  private checkIndex(stage: "recover" | "relabel", i: number, count: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < count))
      throw new Error(`${stage} shard ${i} does not exist: the plan has ${count} (indices 0..${count - 1})`);
  }

  /** The record of a shard whose output still matches it and whose key is `key`; else undefined. */
  private verified(stage: "recover" | "relabel", i: number, ext: string, key: string): ShardRecord | undefined {
    const rec = this.path(stage, i, "json"),
      out = this.path(stage, i, ext);
    if (!existsSync(rec) || !existsSync(out)) return undefined;
    const r = JSON.parse(readFileSync(rec, "utf8")) as ShardRecord;
    if (r.key !== key || sha256(readFileSync(out)) !== r.sha256) return undefined;
    return r;
  }

  private recoverKey(i: number): string {
    const o = this.p.o;
    const { start, end } = this.plan().recover[i];
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
    const plan = this.plan();
    this.checkIndex("recover", i, plan.recover.length);
    if (this.p.recoverConfig().compete)
      throw new Error(
        "--r-compete needs the student the recover gate trains on the starting images, and cluster runs have no gate: drop --r-compete, or use `distill run`",
      );
    const key = this.recoverKey(i);
    if (this.verified("recover", i, "npy", key)) {
      this.log(`recover shard ${i}: up to date`);
      return "skipped";
    }
    const { start, end, images } = plan.recover[i];
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    const K = tf.classes;
    if (K !== this.p.data.train.classes.length && this.p.o.init !== "noise")
      throw new Error(`the teacher has ${K} classes, the data ${this.p.data.train.classes.length}`);
    const source = zooTeacher(tf) ?? { kind: "onnx" as const, bytes: tf.bytes, file: tf.file };
    const r = await recover(
      { source, classes: K, channels: C, size: H, stats: this.p.teacherStats() },
      this.p.recoverConfig(),
      await this.p.initialRealImages(tf.bytes, K),
      this.p.compile,
      { start, end },
    );
    const per = C * H * H;
    const mine = new Float32Array(images.length * per);
    images.forEach((img, k) => mine.set(r.pixels.subarray(img * per, (img + 1) * per), k * per));
    const npy = this.path("recover", i, "npy");
    writeNpy(npy, { data: mine, shape: [images.length, C, H, H] });
    const record: ShardRecord = { key, sha256: sha256(readFileSync(npy)), start, end, images, batches: r.batches };
    writeJsonAtomic(this.path("recover", i, "json"), record);
    this.log(`recover shard ${i}: batches ${start}..${end - 1}, ${images.length} images`);
    if (this.p.gateApplies())
      this.log(
        "recover shards keep the recovered images: the recover gate of `distill run` does not run in a cluster run",
      );
    return "ran";
  }

  /** All synthetic images from the recover shards (each verified), and the per-batch losses in plan order. */
  assembleImages(): { set: ImageSet; batches: unknown[] } {
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    const N = tf.classes * this.p.o.ipc;
    const per = C * H * H;
    const pixels = new Float32Array(N * per);
    const batches: unknown[] = [];
    const plan = this.plan();
    for (let i = 0; i < plan.recover.length; i++) {
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

  private relabelConfig(j: number) {
    const { start, end } = this.plan().relabel[j];
    return { ...this.p.relabelConfig(this.p.runId()), epochStart: start, epochCount: end - start };
  }

  private relabelKey(j: number, set: ImageSet): string {
    return sha256(
      canonicalJson({
        stage: "relabel",
        config: this.relabelConfig(j),
        teacher: sha256(this.p.teacher().bytes),
        images: sha256(new Uint8Array(set.pixels.buffer, set.pixels.byteOffset, set.pixels.byteLength)),
      }),
    );
  }

  async relabelShard(j: number): Promise<ShardOutcome> {
    this.checkIndex("relabel", j, this.plan().relabel.length);
    const { set } = this.assembleImages();
    const key = this.relabelKey(j, set);
    if (this.verified("relabel", j, "dlt", key)) {
      this.log(`relabel shard ${j}: up to date`);
      return "skipped";
    }
    const tf = this.p.teacher();
    const cfg = this.relabelConfig(j);
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
  merge(): void {
    const { set, batches } = this.assembleImages();
    const { pixels, count: N, channels: C, size: H } = set;
    const tables: Uint8Array[] = [];
    for (let j = 0; j < this.relabelShards; j++) {
      if (!this.verified("relabel", j, "dlt", this.relabelKey(j, set)))
        throw new Error(
          `relabel shard ${j} has no verified output in ${this.p.run.path("shards")}: run \`distill shard relabel --index ${j}\` first`,
        );
      tables.push(new Uint8Array(readFileSync(this.path("relabel", j, "dlt"))));
    }
    const table = mergeLabelTableShards(tables);
    writeNpy(this.p.run.path("images.npy"), { data: pixels, shape: [N, C, H, H] });
    this.p.writeImageFolder(pixels, N, C, H);
    writeGridPng(this.p.run.path("grid.png"), pixels, N, C, H, H, this.p.o.ipc);
    writeJsonAtomic(this.p.run.path("recover.json"), { batches });
    writeFileAtomic(this.p.run.path("labels.dlt"), table);
    writeJsonAtomic(this.p.run.path("manifest.json"), this.p.manifest(this.p.runId(), this.p.teacher().classes, set));
    this.log(
      `merge: ${N} images, ${this.relabelShards} table shards → labels.dlt (${table.length} B) in ${join(this.p.run.dir)}`,
    );
  }

  // Stream back (with --edge): each shard publishes what it made as soon as it is made, through
  // the edge's ordinary upload routes (sha256-checked, atomic publish; the same bytes again are
  // "unchanged", so a rerun publishes nothing twice).

  /** The run's manifest (after squeeze: it names the teacher), created on the edge for the launch. */
  async publishManifest(api: EdgeApi): Promise<void> {
    const tf = this.p.teacher();
    const [C, H] = tf.inputShape;
    const set = { pixels: new Float32Array(0), count: tf.classes * this.p.o.ipc, channels: C, size: H };
    const m = this.p.manifest(this.p.runId(), tf.classes, set);
    await api.call("PUT", `/v1/launches/${m.runId}/manifest`, m);
    this.log(`manifest of run ${m.runId} published`);
  }

  /** Recover shard i's images, as the PNGs merge writes to images/. */
  async publishRecover(i: number, api: EdgeApi): Promise<void> {
    const rec = this.verified("recover", i, "npy", this.recoverKey(i));
    if (!rec) throw new Error(`recover shard ${i} has no verified output to publish`);
    const t = readNpy(this.path("recover", i, "npy"));
    const [, C, H, W] = t.shape;
    const per = C * H * W;
    const data = t.data as Float32Array;
    const images = rec.images!;
    let next = 0;
    const worker = async () => {
      while (next < images.length) {
        const k = next++;
        const png = encodePlanarPng({ data: data.subarray(k * per, (k + 1) * per), channels: C, height: H, width: W });
        await api.call("PUT", `/v1/runs/${this.p.runId()}/images/${images[k]}`, png);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    this.log(`recover shard ${i}: ${images.length} images published`);
  }

  /** Relabel shard j's table shard, published as shard number j. */
  async publishRelabel(j: number, api: EdgeApi): Promise<void> {
    const dlt = this.path("relabel", j, "dlt");
    const rec = JSON.parse(readFileSync(this.path("relabel", j, "json"), "utf8")) as ShardRecord;
    const bytes = new Uint8Array(readFileSync(dlt));
    if (sha256(bytes) !== rec.sha256) throw new Error(`relabel shard ${j} changed since it was written: run it again`);
    await api.call("PUT", `/v1/runs/${this.p.runId()}/tables/${j}`, bytes);
    this.log(`relabel shard ${j}: epochs ${rec.start}..${rec.end - 1} published`);
  }
}
