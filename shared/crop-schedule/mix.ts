// CutMix and Mixup, per slot: the crop at (epoch, slot) may be mixed with the crop of a partner
// image (drawn per slot, so the schedule does not depend on the batch size a client uses).
// λ ~ Beta(α, α) is the weight of the slot's own crop. For CutMix a box of area (1 − λ)·S² of
// the output is pasted from the partner and λ is corrected to the box actually pasted; for Mixup
// the two crops are blended. A table's soft labels are the teacher's on the mixed crop.
import { beta, uniform } from "../random.ts";
import { cachedBatchOrder } from "./batch-order.ts";
import { cropResize } from "./interpolation.ts";
import type { CropScheduleParams } from "./params.ts";
import { cropFor } from "./random-resized-crop.ts";

export interface MixSpec {
  partnerImage: number;
  /** Weight of the slot's own crop (and of its label). */
  lambda: number;
  /** CutMix: the pasted box in output pixels; Mixup: null. */
  box: { x: number; y: number; w: number; h: number } | null;
}

const STREAM_MIX = 3;

export function mixFor(p: CropScheduleParams, epoch: number, slot: number, images: number): MixSpec | null {
  if (p.mix.kind === "none" || images < 2) return null;
  const u = (k: number) => uniform(p.seed, STREAM_MIX, epoch, slot, k);
  if (u(0) >= p.mix.prob) return null;
  const partnerImage = Math.min(images - 1, Math.floor(u(1) * images));
  let lambda = beta(p.mix.alpha, p.mix.alpha, p.seed, STREAM_MIX, epoch, slot, 2);
  if (p.mix.kind === "mixup") return { partnerImage, lambda, box: null };
  const S = p.outputSize;
  const cut = Math.sqrt(1 - lambda);
  const cw = Math.floor(S * cut),
    ch = Math.floor(S * cut);
  const cx = Math.floor(u(3) * S),
    cy = Math.floor(u(4) * S);
  const x0 = Math.max(0, cx - (cw >> 1)),
    x1 = Math.min(S, cx + (cw >> 1));
  const y0 = Math.max(0, cy - (ch >> 1)),
    y1 = Math.min(S, cy + (ch >> 1));
  lambda = 1 - ((x1 - x0) * (y1 - y0)) / (S * S);
  return { partnerImage, lambda, box: x1 > x0 && y1 > y0 ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : null };
}

/**
 * The crop a student sees at (epoch, slot): the slot's image cropped and resized per cropFor,
 * mixed with its partner's crop (of the partner's own box for this epoch) per mixFor.
 * Planar C × S × S, same value range as the images given.
 */
export function mixedCrop(
  p: CropScheduleParams,
  epoch: number,
  slot: number,
  images: number,
  getImage: (i: number) => Float32Array,
  channels: number,
): Float32Array {
  const S = p.sourceSize,
    O = p.outputSize;
  const image = cachedBatchOrder(p.seed, epoch, images)[slot];
  const own = cropResize(getImage(image), channels, S, S, cropFor(p, epoch, image), O);
  const mix = mixFor(p, epoch, slot, images);
  if (!mix) return own;
  const other = cropResize(getImage(mix.partnerImage), channels, S, S, cropFor(p, epoch, mix.partnerImage), O);
  if (!mix.box) {
    for (let i = 0; i < own.length; i++) own[i] = mix.lambda * own[i] + (1 - mix.lambda) * other[i];
    return own;
  }
  const { x, y, w, h } = mix.box;
  for (let c = 0; c < channels; c++) {
    for (let r = y; r < y + h; r++) {
      const off = c * O * O + r * O;
      own.set(other.subarray(off + x, off + x + w), off + x);
    }
  }
  return own;
}
