// A student trained from the edge's batch stream (SRe2L evaluate, fed over HTTP): each message
// brings one batch's soft labels, and its crops either come with it (pixels from the edge) or
// are cut here from local copies of the synthetic images with the shared crop schedule — the
// very code `distill evaluate` runs, so on the same EP the two train the same student step for
// step. Pure (no I/O, no Node built-ins): the Node client and the browser page both run it,
// each with its own ORT package (CompileOptions.backend).
import { tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
import { adamw, cosineLr } from "../autodiff/optimizers.ts";
import type { ChannelStats } from "../data/stats.ts";
import type { Dataset } from "../data/dataset.ts";
import { inferenceGraph } from "../models/inference-graph.ts";
import { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import { Classifier } from "../runtime/inference.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { ClassifierTrainer } from "../training/classifier.ts";
import { topOneAccuracy } from "../stages/accuracy.ts";
import { cropBatch, type ImageSet } from "../stages/crops.ts";
import { batchOrder } from "../../shared/crop-schedule/index.ts";
import type { DecodedBatch } from "../../shared/batch-format.ts";
import type { RunManifest } from "../../shared/manifest.ts";
import type { CheckpointIdentity } from "../training/checkpoint.ts";
import { defaultStudentWidth } from "../stages/student-width.ts";
import type { StudentConfig } from "../stages/evaluate.ts";
import { classMajorLabels, hardPhaseEpochs, writeHardTarget } from "../stages/hard-label-phase.ts";

export interface StreamTrainerConfig {
  manifest: RunManifest;
  student: StudentConfig;
  /** Epochs to train, ≤ the run's relabel epochs. */
  epochs: number;
  /** Input normalisation (the teacher's: manifest.normalisation, or the training data's). */
  stats: ChannelStats;
  /** Local synthetic images to crop; absent: the batches must carry pixels (`?pixels=1`). */
  images?: ImageSet;
}

/** A batch message and its dense soft labels (edge/client's TrainingBatch). */
export type StreamBatch = DecodedBatch & { dense(): Float32Array };

export interface Position {
  epoch: number;
  batch: number;
}

export class StreamTrainer {
  /** Mean loss of every finished epoch, and the running sum of the current one. */
  readonly epochLosses: number[] = [];
  private epochSum = 0;
  private constructor(
    readonly config: StreamTrainerConfig,
    readonly spec: ModelSpec,
    private readonly params: ParamStore,
    private trainer: ClassifierTrainer,
    private readonly compile: CompileOptions,
    /** Each image's class, for a hard-label phase (absent without one). */
    private readonly classOf?: Int32Array,
  ) {}

  static async create(config: StreamTrainerConfig, compile: CompileOptions = {}): Promise<StreamTrainer> {
    const m = config.manifest;
    const width = config.student.width ?? defaultStudentWidth(config.student.arch, m.teacher);
    const c = { ...config, student: { ...config.student, width } };
    if (!(Number.isInteger(c.epochs) && c.epochs >= 1 && c.epochs <= m.relabel.epochs))
      throw new RangeError(`epochs must be in [1, ${m.relabel.epochs}] (the run's relabel epochs), got ${c.epochs}`);
    if (c.images) {
      const { images: im } = c;
      if (im.count !== m.images || im.channels !== m.dataset.channels || im.size !== m.relabel.schedule.sourceSize)
        throw new Error(
          `the local images (${im.count} × ${im.channels} × ${im.size}²) are not run ${m.runId}'s (${m.images} × ${m.dataset.channels} × ${m.relabel.schedule.sourceSize}²): pass the run's own folder, or stream pixels`,
        );
      if (m.relabel.cropsPerImage !== 1)
        throw new Error(
          `run ${m.runId} has ${m.relabel.cropsPerImage} crops per image; local cropping follows evaluate (one crop per image): stream pixels instead`,
        );
    }
    let classOf: Int32Array | undefined;
    if (c.student.hardPhase) {
      hardPhaseEpochs(c.epochs, c.student.hardPhase.fraction); // refuses a share outside [0, 1)
      if (m.relabel.cropsPerImage !== 1)
        throw new Error(
          `a hard-label phase needs one crop per image (as evaluate): run ${m.runId} has ${m.relabel.cropsPerImage}`,
        );
      classOf = classMajorLabels(m.images, m.dataset.classes); // refuses unequal classes
    }
    const spec: ModelSpec = {
      arch: c.student.arch,
      classes: m.dataset.classes,
      channels: m.dataset.channels,
      size: m.relabel.schedule.outputSize,
      width: c.student.width,
    };
    const params = new ParamStore(c.student.seed);
    const trainer = await StreamTrainer.compileStep(spec, params, m, c.student, compile);
    return new StreamTrainer(c, spec, params, trainer, compile, classOf);
  }

  private static compileStep(
    spec: ModelSpec,
    params: ParamStore,
    m: RunManifest,
    s: StudentConfig,
    compile: CompileOptions,
  ): Promise<ClassifierTrainer> {
    return ClassifierTrainer.compile(spec, params, {
      ...compile,
      optimizer: adamw({ weightDecay: s.weightDecay }),
      loss: { kind: "kl", temperature: m.relabel.temperature },
    });
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.config.manifest.images / this.config.student.batch);
  }

  get totalSteps(): number {
    return this.config.epochs * this.batchesPerEpoch;
  }

  /** Steps done so far. */
  get steps(): number {
    return this.trainer.stepCount;
  }

  /** The (epoch, batch) the next step trains on. */
  get position(): Position {
    return { epoch: Math.floor(this.steps / this.batchesPerEpoch), batch: this.steps % this.batchesPerEpoch };
  }

  get done(): boolean {
    return this.steps >= this.totalSteps;
  }

  /** The step's input x [n, C, S, S] (normalised) and targets [n, classes] of a batch message. */
  inputs(b: StreamBatch): { x: TensorData; targets: TensorData } {
    const m = this.config.manifest;
    const { epoch, batch } = this.position;
    if (b.epoch !== epoch || b.batch !== batch)
      throw new Error(`expected epoch ${epoch} batch ${batch}, the stream gave ${b.epoch}/${b.batch}`);
    if (b.size !== this.config.student.batch)
      throw new Error(`the stream's batch size is ${b.size}, the student's ${this.config.student.batch}`);
    const S = m.relabel.schedule.outputSize;
    const C = m.dataset.channels;
    const n = b.crops;
    let x: Float32Array;
    if (this.config.images) {
      const slots = Array.from({ length: b.slots }, (_, j) => b.firstSlot + j);
      // The edge and this client must agree on the schedule: its image indices are checked against ours.
      const order = batchOrder(m.relabel.schedule.seed, epoch, m.images);
      slots.forEach((slot, j) => {
        if (b.image[j] !== order[slot])
          throw new Error(
            `the edge puts image ${b.image[j]} in slot ${slot} of epoch ${epoch}, the local crop schedule image ${order[slot]}: the run's manifest and the local images disagree`,
          );
      });
      x = cropBatch(m.relabel.schedule, epoch, slots, this.config.images, this.config.stats);
    } else {
      if (!b.pixels || b.channels !== C || b.cropSize !== S)
        throw new Error("this batch carries no pixels (or pixels of another shape): ask the edge with pixels=1");
      x = normalise(b.pixels, C, S * S, this.config.stats);
    }
    return {
      x: tensor("float32", [n, C, S, S], x),
      targets: tensor("float32", [n, m.dataset.classes], this.hardEpoch(epoch) ? this.hardTargets(b) : b.dense()),
    };
  }

  /** Whether `epoch` is in the student's hard-label phase (HALD; evaluate's hardPhaseEpochs over the same epochs). */
  private hardEpoch(epoch: number): boolean {
    const phase = this.config.student.hardPhase;
    if (!phase) return false;
    const [start, end] = hardPhaseEpochs(this.config.epochs, phase.fraction);
    return epoch >= start && epoch < end;
  }

  /** The batch's crops' own images' classes as targets, mixed and smoothed as evaluate's (writeHardTarget). */
  private hardTargets(b: StreamBatch): Float32Array {
    const m = this.config.manifest;
    const K = m.dataset.classes;
    const targets = new Float32Array(b.crops * K);
    for (let j = 0; j < b.crops; j++) {
      const at = { schedule: m.relabel.schedule, epoch: b.epoch, slot: b.firstSlot + j, images: m.images };
      writeHardTarget(
        targets.subarray(j * K, (j + 1) * K),
        this.classOf!,
        b.image[j],
        at,
        this.config.student.hardPhase!.smoothing,
      );
    }
    return targets;
  }

  /** One training step on the next batch of the schedule; returns its loss. */
  async step(b: StreamBatch): Promise<number> {
    if (this.done) throw new Error(`the student has finished its ${this.totalSteps} steps`);
    const { x, targets } = this.inputs(b);
    const lr = cosineLr(this.steps, this.totalSteps, this.config.student.lr, 0, this.config.student.lrStretch);
    const { loss } = await this.trainer.step(x, targets, lr);
    this.epochSum += loss;
    if (this.steps % this.batchesPerEpoch === 0) {
      this.epochLosses.push(this.epochSum / this.batchesPerEpoch);
      this.epochSum = 0;
    }
    return loss;
  }

  /** Top-1 of the student as it stands (weights frozen, BN in inference mode) on a labelled set. */
  async accuracy(val: Dataset): Promise<number> {
    const clf = await Classifier.fromGraph(await this.frozenGraph(), this.compile);
    try {
      return await topOneAccuracy((x) => clf.logits(x), val, this.config.stats);
    } finally {
      await clf.release();
    }
  }

  /** The student frozen into its inference graph (weights as initializers). */
  async frozenGraph() {
    await this.trainer.syncParams();
    return inferenceGraph(this.spec, this.params);
  }

  private identity(): CheckpointIdentity {
    const c = this.config;
    return {
      run: c.manifest.runId,
      teacher: c.manifest.teacher.id,
      student: c.student,
      epochs: c.epochs,
      crops: c.images ? "local" : "pixels",
    };
  }

  /** Everything needed to go on exactly where this left off: program state, step, losses. */
  checkpoint(): Promise<Uint8Array> {
    return this.trainer.checkpoint(this.identity(), this.epochLosses, this.epochSum);
  }

  /** Restores a checkpoint of this very training (same run, student, epochs, crop source). */
  restore(bytes: Uint8Array, from: string): void {
    const c = this.trainer.restore(bytes, this.identity(), from);
    this.epochLosses.splice(0, this.epochLosses.length, ...c.epochLosses);
    this.epochSum = c.epochSum;
  }

  async release(): Promise<void> {
    await this.trainer.program.release();
  }
}

/** (pixel − mean) / std per channel, planar crops of `plane` pixels. */
function normalise(pixels: Float32Array, channels: number, plane: number, stats: ChannelStats): Float32Array {
  const out = new Float32Array(pixels.length);
  const per = channels * plane;
  for (let b = 0; b < pixels.length; b += per)
    for (let c = 0; c < channels; c++) {
      const inv = 1 / stats.std[c];
      const m = stats.mean[c];
      for (let j = 0; j < plane; j++) out[b + c * plane + j] = (pixels[b + c * plane + j] - m) * inv;
    }
  return out;
}
