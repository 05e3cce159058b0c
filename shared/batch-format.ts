// The batch-stream response (GET /v1/runs/:run/batches/:epoch/:batch): one binary message per
// batch, little-endian, every section starting on a 4-byte boundary so a client reads it with
// typed-array views and no copying. Written by the edge (edge/src/batch/encode.ts), read by
// the training client (edge/client/batch-client.ts): both import this one definition. Layout,
// n = crops = slots × crops_per_image:
//
//   offset size          field
//   0      4             magic "DLB1"
//   4      u16           version (1)
//   6      u16           flags: bit 0 PIXELS (pixel section present), bit 1 MIX (mix sections
//                                   present), bit 2 TURN (turn section present: turned crops)
//   8      u32           epoch
//   12     u32           batch
//   16     u32           batch size asked for (slots; the last batch of an epoch may hold fewer)
//   20     u32           first slot (= batch × size)
//   24     u32           slots in this message
//   28     u16           crops per image
//   30     u16           k
//   32     u32           classes
//   36     u32           images in the run
//   40     u16           channels (0 without pixels)
//   42     u16           crop side in pixels (0 without pixels)
//   44     u32           reserved (0)
//   48     u32[n]        image      source image index of each crop (crops in (slot, crop) order)
//          u16[4n]       box        crop box x, y, w, h in source pixels (the crop schedule's;
//                                   its turn, if any, in the TURN section)
//          u8[n]         flip       1 = horizontally flipped            (padded to 4 bytes)
//          u16[n·k]      ids        top-k class ids, most probable first (padded to 4 bytes)
//          f32[n·k]      probs      their probabilities, decoded from the table (exact values)
//   MIX:   u32[n]        partner    image mixed in (0xFFFFFFFF: not mixed)
//          f32[n]        lambda     weight of the crop's own image (1 when not mixed)
//          u16[4n]       mixBox     CutMix box in output pixels (0,0,0,0 for Mixup or none)
//   PIXELS: f32[n·C·S·S] pixels     the (mixed) crop, planar C × S × S per crop, values in [0, 1]
//   TURN:  f32[n]        angle      the crop's turn about its centre in degrees (the schedule's
//                                   rotate ≠ 0; cropFor's box.angle); last, so the sections
//                                   before it sit where they do without turns
//
// Labels are the table's top-k; the dense vector spreads the remaining mass as SPEC.md says
// (shared/label-table reconstructDense).

export const BATCH_MAGIC = "DLB1";
export const BATCH_VERSION = 1;
export const BATCH_HEADER_BYTES = 48;
export const BATCH_FLAG_PIXELS = 1;
export const BATCH_FLAG_MIX = 2;
export const BATCH_FLAG_TURN = 4;
export const NO_PARTNER = 0xffffffff;
export const BATCH_CONTENT_TYPE = "application/vnd.distill.batch";

export interface BatchHeader {
  version: number;
  flags: number;
  epoch: number;
  batch: number;
  size: number;
  firstSlot: number;
  slots: number;
  cropsPerImage: number;
  k: number;
  classes: number;
  images: number;
  channels: number;
  cropSize: number;
}

/** Byte offsets of each section for a header (both sides compute them the same way). */
export function batchSections(
  h: Pick<BatchHeader, "flags" | "slots" | "cropsPerImage" | "k" | "channels" | "cropSize">,
) {
  const n = h.slots * h.cropsPerImage;
  const pad4 = (x: number) => (x + 3) & ~3;
  const image = BATCH_HEADER_BYTES;
  const box = image + 4 * n;
  const flip = box + 8 * n;
  const ids = pad4(flip + n);
  const probs = pad4(ids + 2 * n * h.k);
  let end = probs + 4 * n * h.k;
  const mix = (h.flags & BATCH_FLAG_MIX) !== 0 ? { partner: end, lambda: end + 4 * n, box: end + 8 * n } : null;
  if (mix) end += 16 * n;
  const pixels = (h.flags & BATCH_FLAG_PIXELS) !== 0 ? end : -1;
  if (pixels >= 0) end += 4 * n * h.channels * h.cropSize * h.cropSize;
  const turn = (h.flags & BATCH_FLAG_TURN) !== 0 ? end : -1;
  if (turn >= 0) end += 4 * n;
  return { crops: n, image, box, flip, ids, probs, mix, pixels, turn, bytes: end };
}

export class BatchFormatError extends Error {
  constructor(message: string) {
    super(`batch message: ${message}`);
    this.name = "BatchFormatError";
  }
}

export interface DecodedBatch extends BatchHeader {
  crops: number;
  image: Uint32Array;
  /** n × 4: x, y, w, h. */
  box: Uint16Array;
  flip: Uint8Array;
  /** n × k. */
  ids: Uint16Array;
  /** n × k. */
  probs: Float32Array;
  mix: { partner: Uint32Array; lambda: Float32Array; box: Uint16Array } | null;
  /** n × C × S × S, or null without pixels. */
  pixels: Float32Array | null;
  /** n: each crop's turn in degrees, or null when the run's crops are not turned. */
  angle: Float32Array | null;
}

/** Views into one message (no copy: `buffer` must not be reused while the views are). */
export function decodeBatch(buffer: ArrayBuffer): DecodedBatch {
  if (buffer.byteLength < BATCH_HEADER_BYTES)
    throw new BatchFormatError(`${buffer.byteLength} bytes, shorter than the ${BATCH_HEADER_BYTES}-byte header`);
  const bytes = new Uint8Array(buffer);
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== BATCH_MAGIC)
    throw new BatchFormatError(`does not start with ${BATCH_MAGIC}: not a batch message`);
  const v = new DataView(buffer);
  const h: BatchHeader = {
    version: v.getUint16(4, true),
    flags: v.getUint16(6, true),
    epoch: v.getUint32(8, true),
    batch: v.getUint32(12, true),
    size: v.getUint32(16, true),
    firstSlot: v.getUint32(20, true),
    slots: v.getUint32(24, true),
    cropsPerImage: v.getUint16(28, true),
    k: v.getUint16(30, true),
    classes: v.getUint32(32, true),
    images: v.getUint32(36, true),
    channels: v.getUint16(40, true),
    cropSize: v.getUint16(42, true),
  };
  if (h.version !== BATCH_VERSION)
    throw new BatchFormatError(`version ${h.version}; this client reads version ${BATCH_VERSION}`);
  if ((h.flags & ~(BATCH_FLAG_PIXELS | BATCH_FLAG_MIX | BATCH_FLAG_TURN)) !== 0)
    throw new BatchFormatError(`unknown flags 0x${h.flags.toString(16)}`);
  const s = batchSections(h);
  if (s.bytes !== buffer.byteLength)
    throw new BatchFormatError(`the header describes ${s.bytes} bytes but the message has ${buffer.byteLength}`);
  const n = s.crops;
  return {
    ...h,
    crops: n,
    image: new Uint32Array(buffer, s.image, n),
    box: new Uint16Array(buffer, s.box, 4 * n),
    flip: new Uint8Array(buffer, s.flip, n),
    ids: new Uint16Array(buffer, s.ids, n * h.k),
    probs: new Float32Array(buffer, s.probs, n * h.k),
    mix: s.mix
      ? {
          partner: new Uint32Array(buffer, s.mix.partner, n),
          lambda: new Float32Array(buffer, s.mix.lambda, n),
          box: new Uint16Array(buffer, s.mix.box, 4 * n),
        }
      : null,
    pixels: s.pixels >= 0 ? new Float32Array(buffer, s.pixels, n * h.channels * h.cropSize * h.cropSize) : null,
    angle: s.turn >= 0 ? new Float32Array(buffer, s.turn, n) : null,
  };
}
