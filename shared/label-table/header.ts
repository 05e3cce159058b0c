// The 64-byte header of SPEC.md: encode, decode and check. All integers little-endian.
import { crc32 } from "../checksum.ts";
import { LabelTableError } from "./errors.ts";

export const HEADER_BYTES = 64;
export const MAGIC = "DLT1";
export const VERSION = 1;
export const QUANT_U8 = 1;
export const QUANT_F16 = 2;
export const FLAG_HAS_BOX = 1;
export const BOX_BYTES = 9;
const RUN_ID = /^[A-Za-z0-9_-]{1,16}$/;

export interface LabelTableHeader {
  version: number;
  flags: number;
  classes: number;
  images: number;
  epochs: number;
  epochStart: number;
  epochCount: number;
  cropsPerImage: number;
  k: number;
  quant: number;
  recordSize: number;
  seed: number;
  runId: string;
  /** CRC-32 of the epoch CRC table (header field records_crc). */
  recordsCrc: number;
}

export type HeaderFields = Omit<LabelTableHeader, "version" | "recordSize" | "recordsCrc">;

export function recordSize(k: number, quant: number, hasBox: boolean): number {
  return 2 * k + k * (quant === QUANT_U8 ? 1 : 2) + (hasBox ? BOX_BYTES : 0);
}

export function hasBox(h: { flags: number }): boolean {
  return (h.flags & FLAG_HAS_BOX) !== 0;
}

/** Field ranges of SPEC.md; throws BAD_HEADER naming the field. */
export function checkFields(h: HeaderFields): void {
  const bad = (field: string, why: string) => new LabelTableError("BAD_HEADER", `${field} ${why}`);
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  if (!(Number.isInteger(h.classes) && h.classes >= 1 && h.classes <= 65535))
    throw bad("classes", `must be in [1, 65535], got ${h.classes}`);
  if (!(u32(h.images) && h.images >= 1)) throw bad("images", `must be ≥ 1, got ${h.images}`);
  if (!(u32(h.epochs) && h.epochs >= 1)) throw bad("epochs", `must be ≥ 1, got ${h.epochs}`);
  if (!(u32(h.epochCount) && h.epochCount >= 1)) throw bad("epoch_count", `must be ≥ 1, got ${h.epochCount}`);
  if (!(u32(h.epochStart) && h.epochStart + h.epochCount <= h.epochs))
    throw bad("epoch_start", `+ epoch_count must be ≤ epochs (${h.epochStart} + ${h.epochCount} > ${h.epochs})`);
  if (!(Number.isInteger(h.cropsPerImage) && h.cropsPerImage >= 1 && h.cropsPerImage <= 65535))
    throw bad("crops_per_image", `must be in [1, 65535], got ${h.cropsPerImage}`);
  if (!(Number.isInteger(h.k) && h.k >= 1 && h.k <= Math.min(h.classes, 255)))
    throw bad("k", `must be in [1, min(classes, 255)], got ${h.k}`);
  if (h.quant !== QUANT_U8 && h.quant !== QUANT_F16) throw bad("quant", `must be 1 (u8) or 2 (f16), got ${h.quant}`);
  if (!u32(h.seed)) throw bad("seed", `must be a 32-bit unsigned integer, got ${h.seed}`);
  if (!RUN_ID.test(h.runId)) throw bad("run_id", `must match [A-Za-z0-9_-]{1,16}, got '${h.runId}'`);
  if ((h.flags & ~FLAG_HAS_BOX) !== 0)
    throw new LabelTableError(
      "BAD_FLAGS",
      `unknown flag bits 0x${h.flags.toString(16)} (only bit 0, HAS_BOX, is defined)`,
    );
}

export function encodeHeader(h: HeaderFields, recordsCrc: number): Uint8Array {
  checkFields(h);
  const out = new Uint8Array(HEADER_BYTES);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MAGIC.charCodeAt(i);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, h.flags, true);
  v.setUint32(8, h.classes, true);
  v.setUint32(12, h.images, true);
  v.setUint32(16, h.epochs, true);
  v.setUint32(20, h.epochStart, true);
  v.setUint32(24, h.epochCount, true);
  v.setUint16(28, h.cropsPerImage, true);
  v.setUint16(30, h.k, true);
  out[32] = h.quant;
  v.setUint16(34, recordSize(h.k, h.quant, hasBox(h)), true);
  v.setUint32(36, h.seed, true);
  for (let i = 0; i < h.runId.length; i++) out[40 + i] = h.runId.charCodeAt(i);
  v.setUint32(56, recordsCrc >>> 0, true);
  v.setUint32(60, crc32(out.subarray(0, 60)), true);
  return out;
}

export function decodeHeader(bytes: Uint8Array): LabelTableHeader {
  if (bytes.length < HEADER_BYTES)
    throw new LabelTableError("TRUNCATED", `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i))
      throw new LabelTableError("BAD_MAGIC", "the file does not start with 'DLT1': not a label table");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const version = v.getUint16(4, true);
  if (version !== VERSION)
    throw new LabelTableError(
      "BAD_VERSION",
      `version ${version}; this decoder reads version ${VERSION} (upgrade the reader or re-export the table)`,
    );
  if (v.getUint32(60, true) !== crc32(bytes.subarray(0, 60)))
    throw new LabelTableError("HEADER_CHECKSUM", "header bytes do not match their CRC-32: the file is corrupt");
  if (bytes[33] !== 0) throw new LabelTableError("BAD_HEADER", "reserved byte 33 must be 0");
  let runId = "";
  for (let i = 40; i < 56 && bytes[i] !== 0; i++) runId += String.fromCharCode(bytes[i]);
  for (let i = 40 + runId.length; i < 56; i++)
    if (bytes[i] !== 0) throw new LabelTableError("BAD_HEADER", "run_id must be zero padded");
  const h: LabelTableHeader = {
    version,
    flags: v.getUint16(6, true),
    classes: v.getUint32(8, true),
    images: v.getUint32(12, true),
    epochs: v.getUint32(16, true),
    epochStart: v.getUint32(20, true),
    epochCount: v.getUint32(24, true),
    cropsPerImage: v.getUint16(28, true),
    k: v.getUint16(30, true),
    quant: bytes[32],
    recordSize: v.getUint16(34, true),
    seed: v.getUint32(36, true),
    runId,
    recordsCrc: v.getUint32(56, true),
  };
  checkFields(h);
  const expected = recordSize(h.k, h.quant, hasBox(h));
  if (h.recordSize !== expected)
    throw new LabelTableError(
      "BAD_HEADER",
      `record_size ${h.recordSize} != ${expected} derived from k, quant and flags`,
    );
  return h;
}
