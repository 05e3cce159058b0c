// Where things are in a table: every offset is computed from the header, never searched.
import { HEADER_BYTES, type LabelTableHeader } from "./header.ts";
import { LabelTableError } from "./errors.ts";

type Layout = Pick<LabelTableHeader, "images" | "epochStart" | "epochCount" | "cropsPerImage" | "recordSize">;

export function recordsStart(h: Pick<LabelTableHeader, "epochCount">): number {
  return HEADER_BYTES + 4 * h.epochCount;
}

export function epochBytes(h: Pick<LabelTableHeader, "images" | "cropsPerImage" | "recordSize">): number {
  return h.images * h.cropsPerImage * h.recordSize;
}

export function tableBytes(h: Layout): number {
  return recordsStart(h) + h.epochCount * epochBytes(h);
}

function checkEpoch(h: Layout, epoch: number): void {
  if (!(Number.isInteger(epoch) && epoch >= h.epochStart && epoch < h.epochStart + h.epochCount)) {
    throw new LabelTableError(
      "OUT_OF_RANGE",
      `epoch ${epoch} is not in this table (it holds epochs ${h.epochStart}..${h.epochStart + h.epochCount - 1})`,
    );
  }
}

export function recordOffset(h: Layout, epoch: number, slot: number, crop = 0): number {
  checkEpoch(h, epoch);
  if (!(Number.isInteger(slot) && slot >= 0 && slot < h.images))
    throw new LabelTableError("OUT_OF_RANGE", `slot ${slot} is not in [0, ${h.images})`);
  if (!(Number.isInteger(crop) && crop >= 0 && crop < h.cropsPerImage))
    throw new LabelTableError("OUT_OF_RANGE", `crop ${crop} is not in [0, ${h.cropsPerImage})`);
  return recordsStart(h) + (((epoch - h.epochStart) * h.images + slot) * h.cropsPerImage + crop) * h.recordSize;
}

/** Byte range of `count` consecutive slots from `firstSlot` (all their crops): one range read per batch. */
export function batchRange(
  h: Layout,
  epoch: number,
  firstSlot: number,
  count: number,
): { offset: number; length: number } {
  if (!(Number.isInteger(count) && count >= 1 && firstSlot + count <= h.images)) {
    throw new LabelTableError(
      "OUT_OF_RANGE",
      `slots [${firstSlot}, ${firstSlot + count}) are not inside [0, ${h.images})`,
    );
  }
  return { offset: recordOffset(h, epoch, firstSlot, 0), length: count * h.cropsPerImage * h.recordSize };
}
