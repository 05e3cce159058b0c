// The 64-byte header of SPEC.md, checked in the same order as shared/label-table/header.ts so
// that both report the same code for the same corrupt file.
import { crc32 } from "./crc32";
import * as E from "./errors";

export const HEADER_BYTES: u32 = 64;
export const QUANT_U8: u32 = 1;
export const QUANT_F16: u32 = 2;
export const FLAG_HAS_BOX: u32 = 1;
/** Largest image count the inspector allocates per-slot targets for (u16 each). */
export const MAX_IMAGES: u32 = 1 << 24;

export let flags: u32 = 0;
export let classes: u32 = 0;
export let images: u32 = 0;
export let epochs: u32 = 0;
export let epochStart: u32 = 0;
export let epochCount: u32 = 0;
export let cropsPerImage: u32 = 0;
export let k: u32 = 0;
export let quant: u32 = 0;
export let recordSize: u32 = 0;
export let seed: u32 = 0;
export let recordsCrc: u32 = 0;
export let headerOk: bool = false;

function isRunIdChar(c: u32): bool {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45;
}

/** Checks and reads the header at p (len bytes available); returns an error code. */
export function parseHeader(p: usize, len: u32): i32 {
  headerOk = false;
  E.clearError();
  if (len < HEADER_BYTES) return E.fail(E.TRUNCATED, E.R_SHORT_HEADER, 0, <f64>len, 0);
  if (load<u8>(p) != 68 || load<u8>(p + 1) != 76 || load<u8>(p + 2) != 84 || load<u8>(p + 3) != 49) return E.fail(E.BAD_MAGIC, E.R_MAGIC, 0, 0, 0);
  const version = <u32>load<u16>(p + 4);
  if (version != 1) return E.fail(E.BAD_VERSION, E.R_VERSION, 0, <f64>version, 0);
  if (load<u32>(p + 60) != crc32(p, 60, 0)) return E.fail(E.HEADER_CHECKSUM, E.R_HEADER_CRC, 0, 0, 0);
  if (load<u8>(p + 33) != 0) return E.fail(E.BAD_HEADER, E.R_RESERVED, 0, <f64>load<u8>(p + 33), 0);
  let idLen: u32 = 0;
  while (idLen < 16 && load<u8>(p + 40 + idLen) != 0) idLen++;
  for (let i = idLen; i < 16; i++) if (load<u8>(p + 40 + i) != 0) return E.fail(E.BAD_HEADER, E.R_RUN_ID_PAD, 0, 0, 0);

  flags = <u32>load<u16>(p + 6);
  classes = load<u32>(p + 8);
  images = load<u32>(p + 12);
  epochs = load<u32>(p + 16);
  epochStart = load<u32>(p + 20);
  epochCount = load<u32>(p + 24);
  cropsPerImage = <u32>load<u16>(p + 28);
  k = <u32>load<u16>(p + 30);
  quant = <u32>load<u8>(p + 32);
  recordSize = <u32>load<u16>(p + 34);
  seed = load<u32>(p + 36);
  recordsCrc = load<u32>(p + 56);

  if (classes < 1 || classes > 65535) return E.fail(E.BAD_HEADER, E.R_CLASSES, 0, <f64>classes, 0);
  if (images < 1) return E.fail(E.BAD_HEADER, E.R_IMAGES, 0, <f64>images, 0);
  if (epochs < 1) return E.fail(E.BAD_HEADER, E.R_EPOCHS, 0, <f64>epochs, 0);
  if (epochCount < 1) return E.fail(E.BAD_HEADER, E.R_EPOCH_COUNT, 0, <f64>epochCount, 0);
  if (<u64>epochStart + <u64>epochCount > <u64>epochs) return E.fail(E.BAD_HEADER, E.R_EPOCH_START, 0, <f64>epochStart, <f64>epochCount);
  if (cropsPerImage < 1) return E.fail(E.BAD_HEADER, E.R_CROPS, 0, <f64>cropsPerImage, 0);
  if (k < 1 || k > min<u32>(classes, 255)) return E.fail(E.BAD_HEADER, E.R_K, 0, <f64>k, 0);
  if (quant != QUANT_U8 && quant != QUANT_F16) return E.fail(E.BAD_HEADER, E.R_QUANT, 0, <f64>quant, 0);
  if (idLen == 0) return E.fail(E.BAD_HEADER, E.R_RUN_ID, 0, 0, 0);
  for (let i: u32 = 0; i < idLen; i++) if (!isRunIdChar(<u32>load<u8>(p + 40 + i))) return E.fail(E.BAD_HEADER, E.R_RUN_ID, 0, <f64>i, 0);
  if ((flags & ~FLAG_HAS_BOX) != 0) return E.fail(E.BAD_FLAGS, E.R_FLAGS, 0, <f64>flags, 0);
  const expected = 2 * k + k * (quant == QUANT_U8 ? 1 : 2) + ((flags & FLAG_HAS_BOX) != 0 ? 9 : 0);
  if (recordSize != expected) return E.fail(E.BAD_HEADER, E.R_RECORD_SIZE, 0, <f64>recordSize, <f64>expected);
  headerOk = true;
  return E.OK;
}

/** Byte offset of the first record. */
export function recordsStart(): f64 {
  return <f64>HEADER_BYTES + 4 * <f64>epochCount;
}

/** Bytes of one epoch's record block. */
export function epochBytes(): f64 {
  return <f64>images * <f64>cropsPerImage * <f64>recordSize;
}

/** Whole-file size the header describes (f64: may exceed 2^32). */
export function tableBytes(): f64 {
  return recordsStart() + <f64>epochCount * epochBytes();
}

/** TRUNCATED / TRAILING_BYTES for a file of `size` bytes. */
export function checkSize(size: f64): i32 {
  const want = tableBytes();
  if (size < want) return E.fail(E.TRUNCATED, E.R_FILE_SHORT, 0, want, size);
  if (size > want) return E.fail(E.TRAILING_BYTES, E.R_TRAILING, 0, size - want, 0);
  return E.OK;
}

/** RECORDS_CHECKSUM: the epoch CRC table (4·epoch_count bytes at p) against records_crc. */
export function checkCrcTable(p: usize): i32 {
  if (crc32(p, 4 * <usize>epochCount, 0) != recordsCrc) return E.fail(E.RECORDS_CHECKSUM, E.R_RECORDS_CRC, 0, 0, 0);
  return E.OK;
}
