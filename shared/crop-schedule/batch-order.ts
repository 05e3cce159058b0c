// The order in which an epoch visits the images: a seeded permutation per epoch (slot → image).
// A training batch b of size B is slots [b·B, (b+1)·B), so any batch of any epoch is known
// without replaying earlier ones.
import { uniform } from "../random.ts";

const STREAM_ORDER = 1;

/** slot → image index for one epoch (Fisher–Yates driven by counter-based draws). */
export function batchOrder(seed: number, epoch: number, images: number): Uint32Array {
  const order = new Uint32Array(images);
  for (let i = 0; i < images; i++) order[i] = i;
  for (let i = images - 1; i > 0; i--) {
    const j = Math.floor(uniform(seed, STREAM_ORDER, epoch, i) * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** image → slot. */
export function inverseOrder(order: Uint32Array): Uint32Array {
  const inv = new Uint32Array(order.length);
  for (let s = 0; s < order.length; s++) inv[order[s]] = s;
  return inv;
}

let memo: { seed: number; epoch: number; images: number; order: Uint32Array } | null = null;

/** batchOrder with a one-entry cache: callers walking the slots of one epoch pay O(N) once. */
export function cachedBatchOrder(seed: number, epoch: number, images: number): Uint32Array {
  if (!memo || memo.seed !== seed || memo.epoch !== epoch || memo.images !== images)
    memo = { seed, epoch, images, order: batchOrder(seed, epoch, images) };
  return memo.order;
}
