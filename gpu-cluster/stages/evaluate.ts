// Evaluate (SRe2L §4): train a student from scratch on a distilled set — every step on exactly
// the crops of the crop schedule, with the label table's soft labels and a KL loss at the
// relabel temperature — then report its top-1 on the real val set. The baselines train the same
// student the same way on a random real subset: (a) with hard labels (mixed like the crops),
// (b) with the same soft relabelling.
import { tensor } from "../graph/builder.ts";
import type { Graph } from "../graph/graph.ts";
import { adamw } from "../autodiff/optimizers.ts";
import { batchOrder, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import type { ChannelStats, Dataset } from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import type { CompileOptions } from "../runtime/program.ts";
import type { StartProgress } from "./progress.ts";
import { cropBatch, type ImageSet } from "./crops.ts";
import { trainClassifier, type CheckpointStore } from "./train-classifier.ts";
import { classMajorLabels, hardPhaseEpochs, writeHardTarget, type HardLabelPhase } from "./hard-label-phase.ts";

/** Crops a student sees at least, over all its epochs. Measured (docs/ablations.md): MNIST IPC 1
 * with a 98.9 % teacher: 3 000 crops (300 epochs × 10 images) → 77.7 %, 30 000 → 92.6 %,
 * 100 000 → 95.7 %; with CutMix crops, Fashion-MNIST IPC 10 and 50 gain 1.1–1.7 pt in every
 * column from 150 000 to 300 000, and IPC 1, 10 and 50 gain 0.8–1.1 pt more from 300 000 to
 * 600 000, while MNIST stays at its ceiling. */
export const MIN_STUDENT_CROPS = 600_000;
/** The original's epoch count, kept for sets large enough to see MIN_STUDENT_CROPS in it. */
export const BASE_STUDENT_EPOCHS = 300;

/** Default student epochs for a distilled set of `images`: small sets get more epochs, so that a
 * student of 10 images is trained as long (in crops) as one of 2000, and larger sets get the
 * original's 300. Never increases with `images` (continual learning's memory relies on it). */
export function defaultStudentEpochs(images: number): number {
  if (!(Number.isInteger(images) && images > 0))
    throw new Error(`a distilled set needs at least one image, got ${images}`);
  return Math.max(BASE_STUDENT_EPOCHS, Math.ceil(MIN_STUDENT_CROPS / images));
}

/** A student and its optimiser (AdamW, cosine, KL at the relabel temperature); the stream trainers take the same. */
export interface StudentConfig {
  arch: string;
  /** Absent: the architecture's own here; the stream trainers choose as the CLI does (the teacher's width for a teacher of the student's family). */
  width?: number;
  batch: number;
  lr: number;
  /** The cosine's stretch ζ (EDC's smoothed schedule, cosineLr); absent: 1, decay to 0, so older configs and keys stay. */
  lrStretch?: number;
  weightDecay: number;
  /** HALD's hard-label phase for soft-labelled students (hard-label-phase.ts); absent: soft labels throughout, so older configs and keys stay. */
  hardPhase?: HardLabelPhase;
  /** Weight initialisation seed (evaluate uses the run seed). */
  seed: number;
}

/** Where a step's targets come from: a label table (soft) or the images' own classes (hard). */
export type StudentLabels =
  { kind: "soft"; table: Uint8Array; temperature: number } | { kind: "hard"; labels: ArrayLike<number> };

export interface StudentResult {
  accuracy: number;
  losses: number[];
  /** The trained student, frozen (weights as initializers, BN in inference mode). */
  graph: Graph;
}

export async function trainStudent(
  set: ImageSet,
  labels: StudentLabels,
  schedule: CropScheduleParams,
  epochs: number,
  classes: number,
  cfg: StudentConfig,
  val: Dataset,
  stats: ChannelStats,
  o: CompileOptions & {
    progress?: StartProgress;
    label?: string;
    /** Epochs of crops and labels there are: student epoch e reuses epoch e mod labelEpochs (default: epochs). */
    labelEpochs?: number;
    /** Where the student saves its state now and then and goes on from after a stop (its batches depend on the epoch alone). */
    checkpoints?: CheckpointStore;
  } = {},
): Promise<StudentResult> {
  const labelEpochs = Math.min(o.labelEpochs ?? epochs, epochs);
  const S = schedule.outputSize;
  const spec: ModelSpec = { arch: cfg.arch, classes, channels: set.channels, size: S, width: cfg.width };
  const params = new ParamStore(cfg.seed);
  const table = labels.kind === "soft" ? decodeLabelTable(labels.table) : null;
  if (
    table &&
    (table.header.images !== set.count ||
      table.header.epochs < labelEpochs ||
      table.header.classes !== classes ||
      table.header.seed !== schedule.seed)
  ) {
    const h = table.header;
    throw new Error(
      `label table (images ${h.images}, epochs ${h.epochs}, classes ${h.classes}, seed ${h.seed}) does not match the student run (images ${set.count}, epochs ${labelEpochs}, classes ${classes}, seed ${schedule.seed}): relabel again`,
    );
  }
  const N = set.count;
  const classOf = labels.kind === "hard" ? labels.labels : cfg.hardPhase ? classMajorLabels(N, classes) : undefined; // no hard epoch: a soft table throughout
  const [hardStart, hardEnd] = table && cfg.hardPhase ? hardPhaseEpochs(epochs, cfg.hardPhase.fraction) : [0, 0];
  /** Epoch e's batches: the schedule's crops of consecutive slots, with their labels. */
  function* batches(studentEpoch: number) {
    // hard labels need no table, so a hard epoch ((a)'s, or a hard phase's) takes its own epoch's
    // crops, past the label budget too
    const hard = !table || (studentEpoch >= hardStart && studentEpoch < hardEnd);
    const e = hard ? studentEpoch : studentEpoch % labelEpochs;
    const smoothing = (table && cfg.hardPhase?.smoothing) || 0; // (a) keeps plain one-hot targets
    const order = batchOrder(schedule.seed, e, N);
    for (let s0 = 0; s0 < N; s0 += cfg.batch) {
      const slots = Array.from({ length: Math.min(cfg.batch, N - s0) }, (_, j) => s0 + j);
      const x = tensor("float32", [slots.length, set.channels, S, S], cropBatch(schedule, e, slots, set, stats));
      const t = tensor("float32", [slots.length, classes]);
      const td = t.data as Float32Array;
      slots.forEach((slot, j) => {
        // a mixed crop's hard label is the same mix of the two images' classes
        if (hard) {
          const row = td.subarray(j * classes, (j + 1) * classes);
          writeHardTarget(row, classOf!, order[slot], { schedule, epoch: e, slot, images: N }, smoothing);
        } else td.set(table!.dense(e, slot, 0), j * classes);
      });
      yield { x, targets: t };
    }
  }
  return await trainClassifier(
    {
      spec,
      params,
      optimizer: adamw({ weightDecay: cfg.weightDecay }),
      loss: labels.kind === "soft" ? { kind: "kl", temperature: labels.temperature } : { kind: "cross_entropy" },
      epochs,
      stepsPerEpoch: Math.ceil(N / cfg.batch),
      lr: cfg.lr,
      lrStretch: cfg.lrStretch,
      label: o.label ?? cfg.arch,
      batches,
      checkpoints: o.checkpoints,
    },
    val,
    stats,
    o,
  );
}
