// Error codes of SPEC.md ("Errors"), as numbers, plus a reason and up to two values so the
// TypeScript wrapper can word the same message as shared/label-table. Nothing here traps:
// every check returns a code.
export const OK: i32 = 0;
export const BAD_MAGIC: i32 = 1;
export const BAD_VERSION: i32 = 2;
export const BAD_FLAGS: i32 = 3;
export const BAD_HEADER: i32 = 4;
export const HEADER_CHECKSUM: i32 = 5;
export const TRUNCATED: i32 = 6;
export const TRAILING_BYTES: i32 = 7;
export const RECORDS_CHECKSUM: i32 = 8;
export const EPOCH_CHECKSUM: i32 = 9;
export const BAD_RECORD: i32 = 10;
export const OUT_OF_RANGE: i32 = 11;

// Reasons (which check failed); the list is mirrored in wasm-tools/src/errors.ts.
export const R_SHORT_HEADER: i32 = 1;
export const R_MAGIC: i32 = 2;
export const R_VERSION: i32 = 3;
export const R_HEADER_CRC: i32 = 4;
export const R_RESERVED: i32 = 5;
export const R_RUN_ID_PAD: i32 = 6;
export const R_CLASSES: i32 = 7;
export const R_IMAGES: i32 = 8;
export const R_EPOCHS: i32 = 9;
export const R_EPOCH_COUNT: i32 = 10;
export const R_EPOCH_START: i32 = 11;
export const R_CROPS: i32 = 12;
export const R_K: i32 = 13;
export const R_QUANT: i32 = 14;
export const R_RUN_ID: i32 = 15;
export const R_FLAGS: i32 = 16;
export const R_RECORD_SIZE: i32 = 17;
export const R_FILE_SHORT: i32 = 18;
export const R_TRAILING: i32 = 19;
export const R_RECORDS_CRC: i32 = 20;
export const R_EPOCH_CRC: i32 = 21;
export const R_ID_RANGE: i32 = 22;
export const R_DUPLICATE: i32 = 23;
export const R_PROB_RANGE: i32 = 24;
export const R_ORDER: i32 = 25;
export const R_SUM: i32 = 26;
export const R_FLIP: i32 = 27;
export const R_POSITION: i32 = 28;
export const R_TOO_LARGE: i32 = 29;
export const R_NOT_STARTED: i32 = 30;

export let errCode: i32 = 0;
export let errReason: i32 = 0;
/** Record index (for record errors, counted from the first record of the table) or epoch. */
export let errIndex: f64 = 0;
export let errValue: f64 = 0;
export let errValue2: f64 = 0;

export function fail(code: i32, reason: i32, index: f64, value: f64, value2: f64): i32 {
  errCode = code;
  errReason = reason;
  errIndex = index;
  errValue = value;
  errValue2 = value2;
  return code;
}

export function clearError(): void {
  errCode = 0;
  errReason = 0;
  errIndex = 0;
  errValue = 0;
  errValue2 = 0;
}
