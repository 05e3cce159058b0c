// Parameters of a run's crop schedule. The defaults are torchvision's RandomResizedCrop
// (scale 0.08–1, ratio 3/4–4/3) and RandomHorizontalFlip (p = 0.5), as in SRe2L's relabel and
// post-training; `mix` adds the batch mixing of the original (CutMix α = 1, Mixup α = 0.8).

export type MixKind = "none" | "cutmix" | "mixup";

export interface CropScheduleParams {
  /** Seeds every draw of the schedule (the run's relabel seed). */
  seed: number;
  /** Side of the (square) source images, in pixels. */
  sourceSize: number;
  /** Side of the crops after resizing, in pixels. */
  outputSize: number;
  /** Range of the crop's area as a fraction of the image's. */
  scale: [number, number];
  /** Range of the crop's aspect ratio w / h (drawn log-uniformly). */
  ratio: [number, number];
  /** Probability of a horizontal flip. */
  flipProb: number;
  /**
   * Largest rotation in degrees: each crop's sampling grid turns about the crop's centre by an
   * angle drawn uniformly from [−rotate, rotate] (DC's MNIST augmentation turns up to 45°). Absent
   * (or 0): no rotation, and the schedule, its crops and the stage keys of older runs are as before.
   */
  rotate?: number;
  /** Mixing of each crop with a partner image's crop: kind, Beta(α, α) for λ, probability per crop. */
  mix: { kind: MixKind; alpha: number; prob: number };
}

export class CropScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CropScheduleError";
  }
}

const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;

/** Fills in defaults and checks every field; errors say which field and what is allowed. */
export function defaultCropSchedule(
  p: Partial<CropScheduleParams> & { seed: number; sourceSize: number },
): CropScheduleParams {
  const out: CropScheduleParams = {
    seed: p.seed,
    sourceSize: p.sourceSize,
    outputSize: p.outputSize ?? p.sourceSize,
    scale: p.scale ?? [0.08, 1],
    ratio: p.ratio ?? [3 / 4, 4 / 3],
    flipProb: p.flipProb ?? 0.5,
    mix: p.mix ?? { kind: "none", alpha: 1, prob: 0 },
    ...(p.rotate ? { rotate: p.rotate } : {}),
  };
  if (!isInt(out.seed, 0) || out.seed > 0xffffffff)
    throw new CropScheduleError(`crop schedule: seed must be an integer in [0, 2^32), got ${out.seed}`);
  if (!isInt(out.sourceSize, 1))
    throw new CropScheduleError(`crop schedule: sourceSize must be a positive integer, got ${out.sourceSize}`);
  if (!isInt(out.outputSize, 1))
    throw new CropScheduleError(`crop schedule: outputSize must be a positive integer, got ${out.outputSize}`);
  const [s0, s1] = out.scale;
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1))
    throw new CropScheduleError(`crop schedule: scale must be [lo, hi] with 0 < lo ≤ hi ≤ 1, got [${out.scale}]`);
  const [r0, r1] = out.ratio;
  if (!(r0 > 0 && r0 <= r1))
    throw new CropScheduleError(`crop schedule: ratio must be [lo, hi] with 0 < lo ≤ hi, got [${out.ratio}]`);
  if (!(out.flipProb >= 0 && out.flipProb <= 1))
    throw new CropScheduleError(`crop schedule: flipProb must be in [0, 1], got ${out.flipProb}`);
  if (p.rotate !== undefined && !(p.rotate >= 0 && p.rotate <= 180))
    throw new CropScheduleError(`crop schedule: rotate must be in [0, 180] degrees, got ${p.rotate}`);
  const m = out.mix;
  if (!["none", "cutmix", "mixup"].includes(m.kind))
    throw new CropScheduleError(`crop schedule: mix.kind must be none, cutmix or mixup, got '${m.kind}'`);
  if (m.kind !== "none" && !(m.alpha > 0))
    throw new CropScheduleError(`crop schedule: mix.alpha must be > 0, got ${m.alpha}`);
  if (!(m.prob >= 0 && m.prob <= 1))
    throw new CropScheduleError(`crop schedule: mix.prob must be in [0, 1], got ${m.prob}`);
  return out;
}
