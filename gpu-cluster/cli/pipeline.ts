// The four stages as run-folder steps. Each declares its config and its input/output files, so
// a rerun skips what is still valid and redoes what changed (see run-folder.ts); the stages
// themselves (gpu-cluster/stages) know nothing of files, flags or progress bookkeeping. What the
// stages share (data, teacher, recipes, which training images each part draws) is run-context.ts;
// recover's start and its gate have their own files (recover-start.ts, gate-run.ts).
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { defaultAugment } from "../data/index.ts";
import { readNpy, readNpyShape, writeNpy } from "../io/npy.ts";
import { writeGridPng, writePngFolder } from "../io/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { Classifier } from "../runtime/inference.ts";
import { squeezeWidening } from "../stages/teacher-width.ts";
import { ensembleOfFiles } from "../stages/teacher-ensemble.ts";
import { realImagesPerSynthetic, recover, refuseTurnedCropsAbove } from "../stages/recover.ts";
import { startFits } from "../stages/selection-kinds.ts";
import type { ScreenResult } from "../stages/gate-screen.ts";
import type { GateCandidate, GateResult } from "../stages/recover-gate.ts";
import { relabel } from "../stages/relabel.ts";
import { trainStudent } from "../stages/evaluate.ts";
import { randomRealSubset } from "../stages/random-subset.ts";
import { topOneAccuracy } from "../stages/accuracy.ts";
import { readTeacherFile, teacherArch, zooTeacher, type TeacherFile } from "../stages/teacher-file.ts";
import type { ImageSet } from "../stages/crops.ts";
import { canonicalJson, sha256, type StageSpec } from "./run-folder.ts";
import { writeReport, type Report, type StudentResult } from "./report.ts";
import { hardPhaseOf, lrStretchOf, perClassFlags, recoverConfigOf, squeezeConfigOf } from "./options.ts";
import { imagesPerByteImage, packImages, packedHeader, type ImageBits } from "../../shared/image-bits.ts";
import {
  AUTO_IMAGE_BITS,
  chooseImageBits,
  IMAGE_BITS_TOLERANCE,
  type ImageBitsChoice,
} from "../stages/image-bits-choice.ts";
import { mean } from "./summary-stats.ts";
import { hardLabelStudentKey, studentKey } from "./student-cache.ts";
import { readJsonIfValid } from "../io/read-file.ts";
import { RunContext } from "./run-context.ts";
import { RecoverStart } from "./recover-start.ts";
import { GateRun } from "./gate-run.ts";
import { HARD_BASELINE } from "./gate-helpers.ts";

/** Per student architecture: (a) and (b), the means over the student draws, and each draw where there are several. */
type BaselineResults = Record<
  string,
  { random_hard: number; random_soft: number; draws?: { random_hard: number[]; random_soft: number[] } }
>;

export class Pipeline extends RunContext {
  /** Recover's starting images and the recover gate (their own files: recover-start.ts, gate-run.ts). */
  readonly start = new RecoverStart(this);
  readonly gate = new GateRun(this);
  /** The run evaluates after recover (`distill run`): the gate's helpers may train baseline (a) meanwhile. */
  evaluatesAfterRecover = false;

  async squeeze(): Promise<void> {
    const o = this.o;
    if (o.teacher) {
      // several files: their ensemble (the mean of their logits) is the teacher
      const files = o.teacher.split(",").map((f) => readTeacherFile(f));
      for (const f of files) this.refuseTeacherOfOtherData(f);
      const bytes = files.length === 1 ? files[0].bytes : ensembleOfFiles(files);
      const outcome = await this.run.stage(
        {
          name: "squeeze",
          config: { imported: sha256(bytes) },
          inputs: [],
          outputs: ["teacher.onnx"],
          force: o.force,
        },
        async () => {
          // the bytes already read (and hashed above) go into the run folder: the file is read once
          writeFileAtomic(this.run.path("teacher.onnx"), bytes);
          // an ensemble's note is its own: read back on first use
          this.teacherWritten(files.length === 1 ? { ...files[0], file: this.run.path("teacher.onnx") } : undefined);
        },
      );
      this.log(`squeeze: ${outcome === "ran" ? "imported" : "kept"} teacher ${o.teacher}`);
      return;
    }
    const cfg = squeezeConfigOf(o, defaultAugment(this.data.train, this.mirrorFlip()), o.seed);
    const widen = o.teacherWidth === undefined;
    const outcome = await this.run.stage(
      {
        name: "squeeze",
        // widen: a width not asked for is doubled once for a teacher that underfits (teacher-width.ts)
        config: { ...cfg, widen, data: this.dataId() },
        inputs: [],
        outputs: ["teacher.onnx"],
        force: o.force,
      },
      async () => {
        const { kept: r, tried } = await squeezeWidening(this.data, cfg, widen, {
          ...this.compile,
          log: (line) => this.log(line),
        });
        writeFileAtomic(this.run.path("teacher.onnx"), r.onnx);
        this.teacherWritten();
        // accuracy (in the note, as in teacher.onnx) is on the test set; the epoch was chosen on the held-out part of train.
        writeJsonAtomic(this.run.path("teacher.json"), {
          ...r.note,
          test_accuracy: r.accuracy,
          epochs: r.epochs,
          fit_images: r.fitImages,
          holdout_images: r.holdoutImages,
          chosen: r.chosen,
          holdout_scores: r.scores,
          losses: r.losses,
          augment: cfg.augment,
          widths_tried: tried,
        });
        const pick = r.chosen
          ? `epoch ${r.chosen.epoch}/${r.epochs} by held-out top-1 ${(r.chosen.holdout * 100).toFixed(2)} % (${r.holdoutImages} train images)`
          : `${r.epochs} epochs`;
        this.log(
          `squeeze: ${cfg.arch} teacher of width ${r.note.width}, ${pick}; test top-1 ${(r.accuracy * 100).toFixed(2)} %`,
        );
      },
    );
    if (outcome === "skipped") this.log("squeeze: up to date (teacher.onnx)");
  }

  /** An imported teacher must take the data's images and output one logit per class of the data (ORT's shape error named neither). */
  private refuseTeacherOfOtherData(t: TeacherFile): void {
    const { classes, channels, height, width } = this.data.train;
    const fix = "give a teacher trained on this data, or leave out --teacher to squeeze one";
    if (t.classes !== classes.length)
      throw new Error(
        `--teacher ${t.file}: it outputs ${t.classes} classes, and the data has ${classes.length} (${classes.slice(0, 5).join(", ")}${classes.length > 5 ? ", …" : ""}): ${fix}`,
      );
    const want = [channels, height, width];
    // 0: a dimension the model leaves dynamic
    if (t.inputShape.some((d, i) => d !== 0 && d !== want[i]))
      throw new Error(
        `--teacher ${t.file}: it takes ${t.inputShape.map((d) => d || "?").join(" × ")} images, and the data's are ${want.join(" × ")}: ${fix}`,
      );
  }

  /** Recover's config (also the cluster shards', gpu-cluster/cli/cluster). */
  recoverConfig() {
    return recoverConfigOf(this.o, this.flipProb(), this.o.seed, this.imageBits);
  }

  /**
   * --image-bits auto: the teacher on held-out training images at 8 bits and fewer
   * (stages/image-bits-choice.ts); 8 for --select factorial, whose draws are 8-bit images.
   */
  async resolveImageBits(): Promise<ImageBits> {
    if (this.o.imageBits !== "auto" || this.bits !== undefined) return this.imageBits;
    if (this.o.init === "real" && this.o.select === "factorial") {
      this.useEightBits("--select factorial composes random draws of --ipc 8-bit images");
      return 8;
    }
    // a start of real images leaves the gate its share of each class to score on
    const smallest = this.smallestClass();
    const depths = AUTO_IMAGE_BITS.filter(
      (b) => this.o.init === "noise" || startFits(smallest, this.o.ipc * imagesPerByteImage(b)),
    );
    if (depths.length === 0) {
      const fewer = AUTO_IMAGE_BITS.map(
        (b) => `${this.o.ipc * imagesPerByteImage(b)} images per class at ${b} bits`,
      ).join(", ");
      this.useEightBits(
        `the smallest class has ${smallest} training images, and a start of fewer bits would take more than half of them (${fewer}); the recover gate scores on the rest`,
      );
      return 8;
    }
    // measured once per run folder (a cluster run's shards all ask): image-bits.json holds the
    // choice under the key of what decides it
    const key = sha256(
      canonicalJson({
        teacher: sha256(this.teacher().bytes),
        data: this.dataId(),
        seed: this.o.seed,
        depths,
        tolerance: IMAGE_BITS_TOLERANCE,
      }),
    );
    const file = this.run.path("image-bits.json");
    const stored = readJsonIfValid<{ key?: string; choice?: ImageBitsChoice }>(file);
    const cached = stored?.key === key ? stored.choice : undefined;
    const reused = cached !== undefined;
    if (cached) this.bitsChoice = cached;
    else {
      const teacher = await Classifier.fromOnnx(this.teacher().bytes, this.compile);
      try {
        this.bitsChoice = await chooseImageBits((x) => teacher.logits(x), this.heldOut(), this.teacherStats(), {
          depths,
        });
      } finally {
        await teacher.release();
      }
      writeJsonAtomic(file, { key, choice: this.bitsChoice });
    }
    const { bits, accuracy, images } = this.bitsChoice;
    const tried = ([8, ...AUTO_IMAGE_BITS] as const).flatMap((b) =>
      accuracy[b] === undefined ? [] : [`${b} bits ${(100 * accuracy[b]).toFixed(2)} %`],
    );
    this.log(
      `image bits: the teacher on ${images} held-out training images: ${tried.join(", ")}; ${bits} bits per pixel${reused ? " (measured before: image-bits.json)" : ""}`,
    );
    return (this.bits = bits);
  }

  async recover(): Promise<void> {
    const o = this.o;
    const bits = await this.resolveImageBits();
    const cfg = this.recoverConfig();
    const outcome = await this.run.stage(
      {
        name: "recover",
        config: {
          ...cfg,
          // absent at 8 bits, so the stage keys of runs without it are unchanged
          imageBits: bits < 8 ? bits : undefined,
          data: o.init !== "noise" ? this.dataId() : undefined,
          ...this.start.selectionConfig(),
          // the gate's students decide which images are kept
          gate: this.gate.applies() ? this.gate.config() : undefined,
          // the competing student (the gate's on the start) shapes the images
          competitor: cfg.compete
            ? { student: this.studentRecipe(o.students[0]), relabel: this.relabelConfig("gate") }
            : undefined,
        },
        inputs: ["teacher.onnx"],
        outputs: ["images.npy", "images", "grid.png", ...(bits < 8 ? ["images.dpk"] : [])],
        force: o.force,
      },
      async () => {
        const tf = this.teacher();
        const [C, H] = tf.inputShape;
        const K = tf.classes;
        if (K !== this.data.train.classes.length && o.init !== "noise")
          throw new Error(`the teacher has ${K} classes, the data ${this.data.train.classes.length}`);
        const source = zooTeacher(tf) ?? { kind: "onnx" as const, bytes: tf.bytes, file: tf.file };
        // --gate-workers: the random draws' students train beside recover (and stop should it
        // fail), then (a)'s where this run evaluates with baselines that are not up to date
        if (this.gate.applies()) {
          this.gate.hardBaselineForHelpers =
            this.evaluatesAfterRecover && o.baselines && !(await this.freshBaselines());
          this.gate.startHelpers();
        }
        try {
          const start = await this.start.images();
          const competitor = cfg.compete ? await this.gate.competitor(start!) : undefined;
          const r = await recover(
            { source, classes: K, channels: C, size: H, stats: this.teacherStats(), competitor },
            cfg,
            start,
            this.compile,
          );
          const last = r.batches.at(-1)!.last;
          this.log(
            `recover: ${r.pixels.length / (C * H * H)} images; last batch loss ${last.loss.toFixed(3)} (ce ${last.ce.toFixed(3)}, bn ${last.bn.toFixed(3)}${last.compete !== undefined ? `, compete ${last.compete.toFixed(3)} from ${r.batches[0].first.compete!.toFixed(3)}` : ""})`,
          );
          // recover moves the (quantised) start freely; what is stored is quantised again
          const recovered = this.atRunDepth(r.pixels);
          const gate = this.gate.applies() ? await this.gate.run(start!, recovered) : undefined;
          this.writeRecovered(gate ? gate.pixels : recovered, { batches: r.batches, gate, start });
        } catch (e) {
          this.gate.stopHelpers();
          throw e;
        }
      },
    );
    if (outcome === "skipped") this.log("recover: up to date (images.npy)");
  }

  /**
   * What recover leaves in the run folder (one process, or a cluster run's merge): images.npy,
   * images/, grid.png, images.dpk below 8 bits, and recover.json with the batches' losses, the
   * gate's decision and the start's selection record.
   */
  writeRecovered(
    pixels: Float32Array,
    r: {
      batches: unknown[];
      gate?: Pick<GateResult, "scores" | "z" | "kept"> & {
        students: Partial<Record<GateCandidate, string>>;
        screen?: ScreenResult;
      };
      start?: Awaited<ReturnType<RecoverStart["images"]>>;
    },
  ): void {
    const { inputShape, classes } = this.teacher();
    const [C, H] = inputShape;
    const N = pixels.length / (C * H * H);
    const { gate, start } = r;
    writeNpy(this.run.path("images.npy"), { data: pixels, shape: [N, C, H, H] });
    writePngFolder(this.run.path("images"), pixels, N, C, H);
    writeGridPng(this.run.path("grid.png"), pixels, N, C, H, H, N / classes);
    const bits = this.imageBits;
    // (b)'s random subsets are 8-bit real images: a gate that keeps one stores it at 8 bits
    const stored = gate && gate.kept !== "start" && gate.kept !== "recovered" ? 8 : bits;
    // evaluate reads the packed file's presence as the run's depth: none at 8 bits
    if (bits < 8) writeFileAtomic(this.run.path("images.dpk"), packImages(pixels, [N, C, H, H], stored));
    else rmSync(this.run.path("images.dpk"), { force: true });
    writeJsonAtomic(this.run.path("recover.json"), {
      batches: r.batches,
      // students: each candidate's key in students/ (its ONNX file there)
      gate: gate && {
        scores: gate.scores,
        z: gate.z,
        kept: gate.kept,
        students: gate.students,
        screen: gate.screen && { epochs: this.screenEpochs, scores: gate.screen.scores },
      },
      probe: start && "probeAccuracy" in start ? { accuracy: start.probeAccuracy, kl: start.meanKl } : undefined,
      factorial: start && "factorial" in start ? { epochs: this.screenEpochs, ...start.factorial } : undefined,
      image_bits: bits < 8 ? stored : undefined,
      image_bits_auto: this.bitsChoice,
    });
  }

  /**
   * Refuses, before any stage, flags this data cannot serve: draws of real images the smallest
   * class cannot give (recover's start, --ipc × 8 / --image-bits × real images per synthetic one,
   * and the baselines' --ipc), and recover's turned crops on images too large for them.
   */
  refuseUnservableFlags(): void {
    const o = this.o;
    refuseTurnedCropsAbove(o.recoverRotate, Math.max(this.data.train.height, this.data.train.width));
    const bits = o.imageBits === "auto" ? 8 : o.imageBits; // auto falls back to 8 where fewer bits would not fit
    const start = o.ipc * imagesPerByteImage(bits) * realImagesPerSynthetic(o.init);
    const need = Math.max(start, o.baselines ? o.ipc : 0);
    const smallest = this.smallestClass();
    if (smallest >= need) return;
    const collage = o.init === "collage" ? ` × ${realImagesPerSynthetic(o.init)} for --init collage` : "";
    const { flags, fix } = need === start ? perClassFlags(o.ipc, bits, collage) : perClassFlags(o.ipc, 8);
    throw new Error(
      `the smallest class has ${smallest} training images, and the run draws ${need} real images per class (${flags}): ${fix}`,
    );
  }

  /** The bits per pixel of the stored images (images.dpk): --image-bits, or 8 where the gate kept a random real subset. */
  private storedBits(): number {
    return packedHeader(readFileSync(this.run.path("images.dpk"))).bits;
  }

  /** The distilled set's image count: images.npy's (where recover has not written it, (b)'s: relabel then names the missing input). */
  private syntheticCount(): number {
    const file = this.run.path("images.npy");
    return existsSync(file) ? readNpyShape(file)[0] : this.randomImages;
  }

  synthetic(): ImageSet {
    const t = readNpy(this.run.path("images.npy"));
    const [N, C, H] = t.shape;
    return { pixels: t.data as Float32Array, count: N, channels: C, size: H };
  }

  /** The relabel stage of these flags: what labels.dlt must have been made with. */
  private relabelSpec() {
    return {
      name: "relabel",
      config: this.relabelConfig(this.runId(), this.syntheticCount()),
      inputs: ["teacher.onnx", "images.npy"],
      outputs: ["labels.dlt", "manifest.json"],
      force: this.o.force,
    };
  }

  async relabel(): Promise<void> {
    const spec = this.relabelSpec();
    const cfg = spec.config;
    const outcome = await this.run.stage(spec, async () => {
      const tf = this.teacher();
      const set = this.synthetic();
      const r = await relabel(tf.bytes, this.teacherStats(), set, tf.classes, cfg, {
        ...this.compile,
        label: "relabel",
      });
      writeFileAtomic(this.run.path("labels.dlt"), r.table);
      writeJsonAtomic(this.run.path("manifest.json"), this.manifest(cfg.runId, tf.classes, set));
      this.log(
        `relabel: ${cfg.epochs} epochs × ${set.count} crops, table ${r.table.length} B (fp32 labels: ${r.fp32Bytes} B, ${(r.fp32Bytes / r.table.length).toFixed(1)}× larger)`,
      );
    });
    if (outcome === "skipped") this.log("relabel: up to date (labels.dlt)");
  }

  manifest(runId: string, classes: number, set: ImageSet): RunManifest {
    const tf = this.teacher();
    const classNames = this.data.train.classes.length === classes ? this.data.train.classes : undefined;
    return parseManifest({
      version: 1,
      runId,
      createdAt: new Date().toISOString(),
      dataset: {
        name: this.datasetName,
        classes,
        channels: set.channels,
        height: set.size,
        width: set.size,
        classNames,
      },
      // images per class as stored (at --image-bits, 8 / b times --ipc; (b)'s images where the gate kept them)
      ipc: set.count / classes,
      images: set.count,
      resolution: set.size,
      relabel: {
        epochs: this.labelEpochsOf(set.count),
        cropsPerImage: 1,
        k: Math.min(this.o.topK, classes),
        quant: this.o.quant,
        temperature: this.o.temperature,
        schedule: this.schedule(),
      },
      seeds: { run: this.o.seed, recover: this.o.seed, relabel: this.o.seed },
      teacher: {
        id: sha256(tf.bytes).slice(0, 16),
        arch: teacherArch(tf.note),
        sha256: sha256(tf.bytes),
        accuracy: tf.note?.accuracy,
        width: tf.note?.width,
      },
    });
  }

  /**
   * One student trained on `set` with `labels`, under the run's crop schedule and label budget;
   * its val top-1. A student the recover gate already trained the same way is scored, not retrained.
   */
  private async trainOne(
    set: ImageSet,
    labels: Parameters<typeof trainStudent>[1],
    arch: string,
    label: string,
    seed = this.evaluateSeed,
  ): Promise<number> {
    const tf = this.teacher();
    const recipe = this.studentRecipe(arch, seed, set.count);
    const key =
      labels.kind === "soft" ? studentKey(set, labels.table, recipe) : hardLabelStudentKey(set, labels.labels, recipe);
    const cached = this.studentCache.get(key);
    if (cached) {
      const correct = await this.correctOn(cached, this.data.val);
      const accuracy = correct.reduce((n, v) => n + v, 0) / correct.length;
      // soft: the gate's student of that set; hard: (a)'s, trained by a gate helper or an earlier evaluate
      const whose = labels.kind === "soft" ? "the recover gate's student" : `trained before (students/${key}.onnx)`;
      this.log(`${label}: ${whose} (same images, labels and recipe): val top-1 ${(accuracy * 100).toFixed(2)} %`);
      return accuracy;
    }
    const checkpoints = this.studentCache.checkpoints(key, (file) =>
      this.log(`${label}: going on from its checkpoint (${file})`),
    );
    const r = await trainStudent(
      set,
      labels,
      this.schedule(),
      this.epochsOf(set.count),
      tf.classes,
      this.studentConfig(arch, seed),
      this.data.val,
      this.teacherStats(),
      { ...this.compile, label, labelEpochs: this.labelEpochsOf(set.count), checkpoints },
    );
    // (a)'s students go to the cache too (a gate helper may train them before evaluate); soft
    // students are the gate's to keep (probe students train with their own labels and keys)
    if (labels.kind === "hard") this.studentCache.put(key, r.graph);
    this.studentCache.clearCheckpoint(key);
    return r.accuracy;
  }

  /**
   * Baseline (a)'s students of `arch` (the run's random real subset with its own classes as hard
   * labels, once per student draw): evaluate's, or a gate helper's beside recover (HARD_BASELINE).
   */
  hardBaselineStudents(
    arch: string,
    randomSet = randomRealSubset(this.data.train, this.o.ipc, this.o.seed),
  ): Promise<number[]> {
    return this.trainDraws(randomSet, { kind: "hard", labels: randomSet.labels }, arch, `${arch} (a)`);
  }

  /** trainOne once per student draw (--student-inits), in the order of evaluateSeeds. */
  private async trainDraws(
    set: ImageSet,
    labels: Parameters<typeof trainStudent>[1],
    arch: string,
    label: string,
  ): Promise<number[]> {
    const seeds = this.evaluateSeeds;
    const accuracies: number[] = [];
    for (const [i, seed] of seeds.entries())
      accuracies.push(
        await this.trainOne(
          set,
          labels,
          arch,
          seeds.length > 1 ? `${label} draw ${i + 1}/${seeds.length}` : label,
          seed,
        ),
      );
    return accuracies;
  }

  /**
   * A student on `set` (class-major, like every set of the run) with its images' own classes as
   * hard labels, mixed like the crops: what (a) is for (b)'s images, for any set. Where subset
   * quality shows when soft labels do not swamp it (scripts/hard-label-students.ts).
   */
  hardLabelStudent(set: ImageSet, arch: string, label: string): Promise<number> {
    const perClass = set.count / this.data.train.classes.length;
    const labels = Int32Array.from({ length: set.count }, (_, i) => Math.floor(i / perClass));
    return this.trainOne(set, { kind: "hard", labels }, arch, label);
  }

  /** What the random-subset baselines depend on besides the teacher: the data, the subset and the student recipe. */
  private randomSubsetConfig() {
    const o = this.o;
    return {
      students: o.students.map((a) => this.studentConfig(a, this.evaluateSeed)),
      ...this.initsConfig,
      epochs: this.epochs,
      ...this.randomLabelsConfig(),
    };
  }

  /** What (b)'s soft labels depend on besides the teacher: the subset and the crops. */
  private randomLabelsConfig() {
    return { ipc: this.o.ipc, seed: this.o.seed, relabel: this.relabelConfig("baseline"), data: this.dataId() };
  }

  /**
   * (a)'s and (b)'s random real subset, and the teacher's soft labels on its crops: relabelled in
   * a stage of its own, so that a change of students (architecture, recipe) reuses the labels.
   */
  private async randomSubsetRelabelled() {
    const o = this.o;
    const randomSet = randomRealSubset(this.data.train, o.ipc, o.seed);
    const file = join("baselines", "labels-random.dlt");
    const config = this.randomLabelsConfig();
    const spec = { name: "baseline-labels", config, inputs: ["teacher.onnx"], outputs: [file], force: o.force };
    let table: Uint8Array | undefined;
    const outcome = await this.run.stage(spec, async () => {
      const tf = this.teacher();
      ({ table } = await relabel(tf.bytes, this.teacherStats(), randomSet, tf.classes, config.relabel, {
        ...this.compile,
        label: "relabel-b",
      }));
      writeFileAtomic(this.run.path(file), table);
    });
    if (outcome === "skipped") this.log(`relabel-b: up to date (${file})`);
    return { randomSet, table: table ?? new Uint8Array(readFileSync(this.run.path(file))) };
  }

  /**
   * (b) alone, in its own stage: a student per architecture on the run's random real subset with
   * the teacher's soft labels on its crops, exactly as the baselines train (b). For sweeping the
   * subset's size at a fixed crop budget (scripts/images-worth.ts).
   */
  async randomSoftStudents(): Promise<Record<string, number>> {
    const o = this.o;
    const file = "random-soft.json";
    const config = this.randomSubsetConfig();
    await this.run.stage(
      { name: "random-soft", config, inputs: ["teacher.onnx"], outputs: [file], force: o.force },
      async () => {
        const { randomSet, table } = await this.randomSubsetRelabelled();
        const results: Record<string, number> = {};
        for (const arch of o.students)
          results[arch] = mean(
            await this.trainDraws(randomSet, { kind: "soft", table, temperature: o.temperature }, arch, `${arch} (b)`),
          );
        writeJsonAtomic(this.run.path(file), results);
      },
    );
    return JSON.parse(readFileSync(this.run.path(file), "utf8"));
  }

  /**
   * Baselines (a) and (b) per student, in their own stage: they depend on the teacher, the data
   * and the student recipe but not on the synthetic images, so ablations of recover reuse them.
   */
  private baselinesStage(): StageSpec {
    return {
      name: "baselines",
      config: this.randomSubsetConfig(),
      inputs: ["teacher.onnx"],
      outputs: [join("baselines", "results.json")],
      force: this.o.force,
    };
  }

  /** The baselines stage's results where they are up to date with this run's options, else undefined. */
  async freshBaselines(): Promise<BaselineResults | undefined> {
    const spec = this.baselinesStage();
    if (!(await this.run.isFresh(spec))) return undefined;
    return JSON.parse(readFileSync(this.run.path(spec.outputs[0]), "utf8"));
  }

  private async baselines(): Promise<BaselineResults> {
    const o = this.o;
    const spec = this.baselinesStage();
    const [file] = spec.outputs;
    await this.run.stage(spec, async () => {
      const { randomSet, table } = await this.randomSubsetRelabelled();
      writeGridPng(
        this.run.path("baselines", "grid-random.png"),
        randomSet.pixels,
        randomSet.count,
        randomSet.channels,
        randomSet.size,
        randomSet.size,
        o.ipc,
      );
      const results: BaselineResults = {};
      // a gate helper may be training (a)'s students: they are in the student cache when it is done
      await this.gate.helperFinished(HARD_BASELINE);
      for (const arch of o.students) {
        const hard = await this.hardBaselineStudents(arch, randomSet);
        const soft = await this.trainDraws(
          randomSet,
          { kind: "soft", table, temperature: o.temperature },
          arch,
          `${arch} (b)`,
        );
        const [random_hard, random_soft] = [mean(hard), mean(soft)];
        results[arch] = {
          random_hard,
          random_soft,
          ...(hard.length > 1 ? { draws: { random_hard: hard, random_soft: soft } } : {}),
        };
        this.log(
          `baselines: ${arch}: random hard ${(random_hard * 100).toFixed(2)} %, random soft ${(random_soft * 100).toFixed(2)} %`,
        );
      }
      writeJsonAtomic(this.run.path(file), results);
    });
    return JSON.parse(readFileSync(this.run.path(file), "utf8"));
  }

  async evaluate(): Promise<Report> {
    const o = this.o;
    const { val } = this.data;
    const K = this.teacher().classes;
    if (val.classes.length !== K)
      throw new Error(
        `the teacher has ${K} classes but ${this.datasetName} has ${val.classes.length}: use a teacher trained on this data`,
      );
    // ours' student trains on this run's crops: labels.dlt must label exactly those, whatever the
    // table's run id (a copied folder gets another); refused before any work
    const made = this.run.recordedConfig("relabel") as { runId?: string } | undefined;
    const want = this.relabelSpec().config;
    if (made && canonicalJson({ ...made, runId: "" }) !== canonicalJson({ ...want, runId: "" }))
      throw new Error(
        `${this.run.path("labels.dlt")} was made with other relabel flags than these (crop schedule, label epochs, temperature or top-k): run \`distill relabel\` with the same flags first (\`distill run\` runs every stage that is out of date)`,
      );
    const baselines = o.baselines ? await this.baselines() : undefined;
    const config = {
      students: o.students.map((a) => this.studentConfig(a, this.evaluateSeed)),
      ...this.initsConfig,
      epochs: this.epochs,
      labelEpochs: this.labelEpochs,
      temperature: o.temperature,
      baselines: o.baselines,
      data: this.dataId(),
    };
    // --image-bits below 8 (or auto's choice of fewer): recover stored the images packed too
    const packed = existsSync(this.run.path("images.dpk"));
    const inputs = [
      "teacher.onnx",
      "images.npy",
      "labels.dlt",
      ...(packed ? ["images.dpk"] : []),
      ...(o.baselines ? ["baselines/results.json"] : []),
    ];
    await this.run.stage(
      { name: "evaluate", config, inputs, outputs: ["report.json", "report.md"], force: o.force },
      async () => {
        const tf = this.teacher();
        const teacher = await Classifier.fromOnnx(tf.bytes, this.compile);
        const teacherAccuracy = await topOneAccuracy((x) => teacher.logits(x), val, this.teacherStats());
        await teacher.release();
        this.log(`evaluate: teacher val top-1 ${(teacherAccuracy * 100).toFixed(2)} %`);
        const synthetic = this.synthetic();
        const table = new Uint8Array(readFileSync(this.run.path("labels.dlt")));
        const students: Record<string, StudentResult> = {};
        for (const arch of o.students) {
          const draws = await this.trainDraws(
            synthetic,
            { kind: "soft", table, temperature: o.temperature },
            arch,
            `${arch} ours`,
          );
          const distilled = mean(draws);
          const b = baselines?.[arch];
          students[arch] = {
            distilled,
            ...(b && { random_hard: b.random_hard, random_soft: b.random_soft }),
            ...(draws.length > 1 && { draws: { seeds: this.evaluateSeeds, distilled: draws, ...b?.draws } }),
          };
          this.log(
            `evaluate: ${arch}: ours ${(distilled * 100).toFixed(2)} %` +
              (b
                ? `, random hard ${(b.random_hard * 100).toFixed(2)} %, random soft ${(b.random_soft * 100).toFixed(2)} %`
                : ""),
          );
        }
        const pngBytes = existsSync(this.run.path("images")) ? sumFolder(this.run.path("images")) : 0;
        const recovered = this.run.path("recover.json");
        const gate = existsSync(recovered) ? JSON.parse(readFileSync(recovered, "utf8")).gate : undefined;
        const report: Report = {
          dataset: this.datasetName,
          ipc: o.ipc,
          seed: o.seed,
          student_seed: this.evaluateSeed,
          student_lr_stretch: lrStretchOf(o).lrStretch,
          student_hard_phase: hardPhaseOf(o).hardPhase,
          teacher_accuracy: teacherAccuracy,
          students,
          student_widths: Object.fromEntries(config.students.flatMap((s) => (s.width ? [[s.arch, s.width]] : []))),
          student_epochs: this.epochsOf(synthetic.count),
          ...(packed && { image_bits: this.storedBits(), random_epochs: this.epochs }),
          gate: gate && { kept: gate.kept, scores: gate.scores, screen: gate.screen },
          classes: K,
          images: synthetic.count,
          shape: [synthetic.channels, synthetic.size, synthetic.size],
          val_images: val.labels.length,
          teacher: {
            arch: teacherArch(tf.note),
            source: o.teacher ? "imported" : "trained",
            file: "teacher.onnx",
          },
          label_table: {
            file: "labels.dlt",
            bytes: table.length,
            fp32_bytes: this.labelEpochsOf(synthetic.count) * K * synthetic.count * 4,
            epochs: this.labelEpochsOf(synthetic.count),
            top_k: Math.min(o.topK, K),
            quant: o.quant,
          },
          image_bytes: {
            npy: statSync(this.run.path("images.npy")).size,
            png: pngBytes,
            ...(packed && { packed: statSync(this.run.path("images.dpk")).size }),
          },
          seconds: Object.fromEntries(
            ["squeeze", "recover", "relabel", "baselines"].map((s) => [s, this.run.stageSeconds(s) ?? 0]),
          ),
          ep: o.ep,
          created: new Date().toISOString(),
          command: this.command,
        };
        writeReport(this.run.dir, report);
      },
    );
    return JSON.parse(readFileSync(this.run.path("report.json"), "utf8")) as Report;
  }
}

function sumFolder(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}
