// One record: the top-k class ids of a crop and their quantised probabilities (+ crop box).
import { fromHalf, toHalf } from "./half.ts";
import { QUANT_U8, hasBox, type LabelTableHeader } from "./header.ts";
import { LabelTableError } from "./errors.ts";

export interface BoxRecord {
  x: number;
  y: number;
  w: number;
  h: number;
  flip: boolean;
}

export interface DecodedRecords {
  /** count × k class ids, most probable first. */
  ids: Uint16Array;
  /** count × k decoded probabilities. */
  probs: Float32Array;
  /** count boxes, when the table carries them. */
  boxes?: BoxRecord[];
}

type RecordLayout = Pick<LabelTableHeader, "k" | "quant" | "flags" | "classes" | "recordSize">;

const quantise = (p: number, quant: number): number =>
  quant === QUANT_U8 ? Math.round(Math.min(1, Math.max(0, p)) * 255) : toHalf(Math.min(1, Math.max(0, p)));
const dequantise = (q: number, quant: number): number => (quant === QUANT_U8 ? q / 255 : fromHalf(q));

/** How far the decoded sum may exceed 1 from rounding alone. */
export function sumTolerance(k: number, quant: number): number {
  return k * (quant === QUANT_U8 ? 0.5 / 255 : 2 ** -11) + 1e-6;
}

/** Top-k of a probability vector (ties: lower id first) with the values a decoder will read back. */
export function quantizeTopK(
  probs: ArrayLike<number>,
  k: number,
  quant: number,
): { ids: Uint16Array; probs: Float32Array } {
  const order = Array.from({ length: probs.length }, (_, i) => i)
    .sort((a, b) => probs[b] - probs[a] || a - b)
    .slice(0, k);
  return {
    ids: Uint16Array.from(order),
    probs: Float32Array.from(order, (i) => dequantise(quantise(probs[i], quant), quant)),
  };
}

/** Writes the record of one crop at `offset` of `view`. */
export function encodeRecord(
  h: RecordLayout,
  view: DataView,
  offset: number,
  probs: ArrayLike<number>,
  box?: BoxRecord,
): void {
  const order = Array.from({ length: h.classes }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  for (let j = 0; j < h.k; j++) view.setUint16(offset + 2 * j, order[j], true);
  const p0 = offset + 2 * h.k;
  for (let j = 0; j < h.k; j++) {
    const q = quantise(probs[order[j]], h.quant);
    if (h.quant === QUANT_U8) view.setUint8(p0 + j, q);
    else view.setUint16(p0 + 2 * j, q, true);
  }
  if (hasBox(h)) {
    if (!box) throw new LabelTableError("BAD_RECORD", "the table carries crop boxes (HAS_BOX) but no box was given");
    const b0 = p0 + h.k * (h.quant === QUANT_U8 ? 1 : 2);
    for (const [i, v] of [box.x, box.y, box.w, box.h].entries()) {
      if (!(Number.isInteger(v) && v >= 0 && v <= 65535))
        throw new LabelTableError("BAD_RECORD", `crop box values must be integers in [0, 65535], got ${v}`);
      view.setUint16(b0 + 2 * i, v, true);
    }
    view.setUint8(b0 + 8, box.flip ? 1 : 0);
  }
}

/** Decodes and validates `count` consecutive records from `bytes` (e.g. one batchRange read). */
export function decodeRecords(h: RecordLayout, bytes: Uint8Array, count: number, firstIndex = 0): DecodedRecords {
  if (bytes.length < count * h.recordSize)
    throw new LabelTableError("TRUNCATED", `${count} records need ${count * h.recordSize} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ids = new Uint16Array(count * h.k);
  const probs = new Float32Array(count * h.k);
  const boxes: BoxRecord[] | undefined = hasBox(h) ? [] : undefined;
  const tol = sumTolerance(h.k, h.quant);
  const seen = new Uint32Array(h.classes);
  for (let r = 0; r < count; r++) {
    const o = r * h.recordSize;
    const p0 = o + 2 * h.k;
    let sum = 0;
    for (let j = 0; j < h.k; j++) {
      const id = view.getUint16(o + 2 * j, true);
      const bad = (why: string) => new LabelTableError("BAD_RECORD", `record ${firstIndex + r}: ${why}`);
      if (id >= h.classes) throw bad(`class id ${id} ≥ classes ${h.classes}`);
      if (seen[id] === r + 1) throw bad(`class id ${id} appears twice`);
      seen[id] = r + 1;
      const p = h.quant === QUANT_U8 ? view.getUint8(p0 + j) / 255 : fromHalf(view.getUint16(p0 + 2 * j, true));
      if (!(p >= 0 && p <= 1)) throw bad(`probability ${p} is not in [0, 1]`);
      if (j > 0 && p > probs[r * h.k + j - 1]) throw bad("probabilities are not in descending order");
      ids[r * h.k + j] = id;
      probs[r * h.k + j] = p;
      sum += p;
    }
    if (sum > 1 + tol)
      throw new LabelTableError("BAD_RECORD", `record ${firstIndex + r}: probabilities sum to ${sum.toFixed(4)} > 1`);
    if (boxes) {
      const b0 = p0 + h.k * (h.quant === QUANT_U8 ? 1 : 2);
      const flip = view.getUint8(b0 + 8);
      if (flip > 1)
        throw new LabelTableError("BAD_RECORD", `record ${firstIndex + r}: flip byte ${flip} is not 0 or 1`);
      boxes.push({
        x: view.getUint16(b0, true),
        y: view.getUint16(b0 + 2, true),
        w: view.getUint16(b0 + 4, true),
        h: view.getUint16(b0 + 6, true),
        flip: flip === 1,
      });
    }
  }
  return { ids, probs, boxes };
}

/**
 * Dense C-vector: the top-k as stored; the remaining mass 1 − Σq spread evenly over the classes
 * not stored, counting stored entries that quantised to 0 as not stored (their true value is
 * below the quantisation step, not zero).
 */
export function reconstructDense(
  ids: ArrayLike<number>,
  probs: ArrayLike<number>,
  k: number,
  classes: number,
  offset = 0,
  out = new Float32Array(classes),
): Float32Array {
  let sum = 0;
  let zeros = 0;
  for (let j = 0; j < k; j++) {
    sum += probs[offset + j];
    if (probs[offset + j] === 0) zeros++;
  }
  const unstored = classes - k + zeros;
  const rest = unstored > 0 ? Math.max(0, 1 - sum) / unstored : 0;
  out.fill(rest);
  for (let j = 0; j < k; j++) if (probs[offset + j] !== 0) out[ids[offset + j]] = probs[offset + j];
  return out;
}
