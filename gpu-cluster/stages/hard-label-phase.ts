// HALD (Cui et al., "Hard Labels In!", arXiv 2512.15647): a soft-label student trains the middle
// part of its epochs on hard labels, soft → hard → soft (their setting S6). Where few crops per
// image are labelled, a crop's soft label drifts toward what the crop looks like rather than what
// its image is; the images' own classes pull the student back. Hard labels cost no table, so the
// hard phase's crops are its own epochs' crops, also beyond the label budget (--label-epochs).
import { mixFor, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";

export interface HardLabelPhase {
  /** Share of the student's epochs trained on hard labels, in [0, 1). */
  fraction: number;
  /** Label smoothing of the hard targets: (1 − s)·one-hot + s / classes (HALD: 0.8). */
  smoothing: number;
}

/**
 * HALD's label smoothing of the hard targets (their `--label-smoothing` default). They train the
 * hard phase with cross-entropy at T = 1; here the hard targets go through the students' KL at the
 * relabel temperature T, where a target sets a logit gap of T·ln(on / off): s = 0.8 gives 5.0 at
 * C = 10 and T = 4, about the 5.5 their cross-entropy gives at C = 1000.
 */
export const HALD_SMOOTHING = 0.8;

/** The hard phase's epochs [start, end): round(fraction·epochs) of them, after half the soft ones (the first half rounded down). */
export function hardPhaseEpochs(epochs: number, fraction: number): [number, number] {
  if (!(fraction >= 0 && fraction < 1))
    throw new Error(`hard-label phase: fraction must be in [0, 1), got ${fraction}`);
  const hard = Math.round(fraction * epochs);
  const start = Math.floor((epochs - hard) / 2);
  return [start, start + hard];
}

/**
 * Each image's class in a set of `images` held class by class, images / classes of each (every
 * distilled set and random subset is): the classes a hard phase reads. Refuses any other count.
 */
export function classMajorLabels(images: number, classes: number): Int32Array {
  if (images % classes !== 0)
    throw new Error(
      `a hard-label phase needs the same number of images in every class: ${images} images, ${classes} classes`,
    );
  return Int32Array.from({ length: images }, (_, i) => Math.floor(i / (images / classes)));
}

/** Which crop: slot `slot` of epoch `epoch` in a schedule over `images` images. */
export interface CropAt {
  schedule: CropScheduleParams;
  epoch: number;
  slot: number;
  images: number;
}

/**
 * Writes the hard target of the crop `at` (of image `image`) into `row` (one row of classes):
 * the image's class, mixed with its partner's as the crop is (CutMix/Mixup λ), then smoothed.
 */
export function writeHardTarget(
  row: Float32Array,
  labels: ArrayLike<number>,
  image: number,
  at: CropAt,
  smoothing = 0,
): void {
  row.fill(smoothing / row.length);
  const mix = mixFor(at.schedule, at.epoch, at.slot, at.images);
  const lambda = mix ? mix.lambda : 1;
  row[labels[image]] += (1 - smoothing) * lambda;
  if (mix) row[labels[mix.partnerImage]] += (1 - smoothing) * (1 - lambda);
}
