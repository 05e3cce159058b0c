// The crops a relabel or student step sees, built on the host from the shared crop schedule:
// relabel, the student's training and the edge's batch stream all call the same pure function
// (shared/crop-schedule), so the labels in a table belong to exactly the crops trained on.
import { mixedCrop, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import type { ChannelStats } from "../data/index.ts";

export interface ImageSet {
  /** N × C × H × W pixels in [0, 1]. */
  pixels: Float32Array;
  count: number;
  channels: number;
  size: number;
}

export function imageOf(set: ImageSet, i: number): Float32Array {
  const per = set.channels * set.size * set.size;
  return set.pixels.subarray(i * per, (i + 1) * per);
}

/** Normalised crops of the given slots of one epoch, [slots.length, C, S, S]. */
export function cropBatch(
  schedule: CropScheduleParams,
  epoch: number,
  slots: ArrayLike<number>,
  set: ImageSet,
  stats: ChannelStats,
): Float32Array {
  const S = schedule.outputSize;
  const plane = S * S;
  const per = set.channels * plane;
  const out = new Float32Array(slots.length * per);
  for (let b = 0; b < slots.length; b++) {
    const crop = mixedCrop(schedule, epoch, slots[b], set.count, (i) => imageOf(set, i), set.channels);
    for (let c = 0; c < set.channels; c++) {
      const inv = 1 / stats.std[c];
      const m = stats.mean[c];
      for (let j = 0; j < plane; j++) out[b * per + c * plane + j] = (crop[c * plane + j] - m) * inv;
    }
  }
  return out;
}
