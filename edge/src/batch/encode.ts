// Writes one batch message (layout: shared/batch-format.ts) into a single buffer.
import {
  BATCH_FLAG_MIX,
  BATCH_FLAG_PIXELS,
  BATCH_FLAG_TURN,
  BATCH_MAGIC,
  BATCH_VERSION,
  NO_PARTNER,
  batchSections,
  type BatchHeader,
} from "../../../shared/batch-format.ts";
import type { CropBox, MixSpec } from "../../../shared/crop-schedule/index.ts";

export interface BatchContent {
  header: Omit<BatchHeader, "version" | "flags">;
  /** Per crop, in (slot, crop) order. */
  images: ArrayLike<number>;
  /** Per crop; turned crops (box.angle set: the schedule's rotate) add the TURN section. */
  boxes: CropBox[];
  ids: Uint16Array;
  probs: Float32Array;
  /** Per crop (null entries: not mixed), or null when the run's schedule has no mixing. */
  mixes: (MixSpec | null)[] | null;
  /** Per crop C × S × S, or null. */
  pixels: Float32Array[] | null;
}

export function encodeBatch(b: BatchContent): Uint8Array<ArrayBuffer> {
  const h: BatchHeader = {
    ...b.header,
    version: BATCH_VERSION,
    flags:
      (b.pixels ? BATCH_FLAG_PIXELS : 0) |
      (b.mixes ? BATCH_FLAG_MIX : 0) |
      (b.boxes.some((c) => c.angle !== undefined) ? BATCH_FLAG_TURN : 0),
  };
  const s = batchSections(h);
  const buf = new ArrayBuffer(s.bytes);
  const bytes = new Uint8Array(buf);
  const v = new DataView(buf);
  for (let i = 0; i < 4; i++) bytes[i] = BATCH_MAGIC.charCodeAt(i);
  v.setUint16(4, h.version, true);
  v.setUint16(6, h.flags, true);
  v.setUint32(8, h.epoch, true);
  v.setUint32(12, h.batch, true);
  v.setUint32(16, h.size, true);
  v.setUint32(20, h.firstSlot, true);
  v.setUint32(24, h.slots, true);
  v.setUint16(28, h.cropsPerImage, true);
  v.setUint16(30, h.k, true);
  v.setUint32(32, h.classes, true);
  v.setUint32(36, h.images, true);
  v.setUint16(40, h.channels, true);
  v.setUint16(42, h.cropSize, true);
  v.setUint32(44, 0, true);
  const n = s.crops;
  // Little-endian typed-array views: Workers, Node and browsers all run on little-endian hosts.
  new Uint32Array(buf, s.image, n).set(b.images);
  const box = new Uint16Array(buf, s.box, 4 * n);
  const flip = new Uint8Array(buf, s.flip, n);
  b.boxes.forEach((c, i) => {
    box.set([c.x, c.y, c.w, c.h], 4 * i);
    flip[i] = c.flip ? 1 : 0;
  });
  new Uint16Array(buf, s.ids, n * h.k).set(b.ids);
  new Float32Array(buf, s.probs, n * h.k).set(b.probs);
  if (s.mix && b.mixes) {
    const partner = new Uint32Array(buf, s.mix.partner, n);
    const lambda = new Float32Array(buf, s.mix.lambda, n);
    const mixBox = new Uint16Array(buf, s.mix.box, 4 * n);
    b.mixes.forEach((m, i) => {
      partner[i] = m ? m.partnerImage : NO_PARTNER;
      lambda[i] = m ? m.lambda : 1;
      if (m?.box) mixBox.set([m.box.x, m.box.y, m.box.w, m.box.h], 4 * i);
    });
  }
  if (s.pixels >= 0 && b.pixels) {
    const per = h.channels * h.cropSize * h.cropSize;
    const px = new Float32Array(buf, s.pixels, n * per);
    b.pixels.forEach((p, i) => px.set(p, i * per));
  }
  if (s.turn >= 0) new Float32Array(buf, s.turn, n).set(b.boxes.map((c) => c.angle ?? 0));
  return bytes;
}
