// Turns the module's (code, reason, index, value) into the LabelTableError of shared/, worded
// like shared/label-table's own decoder. Reasons mirror wasm-tools/assembly/errors.ts.
import { LabelTableError, type LabelTableErrorCode } from "../../shared/label-table/index.ts";

const CODES: LabelTableErrorCode[] = [
  "BAD_MAGIC",
  "BAD_VERSION",
  "BAD_FLAGS",
  "BAD_HEADER",
  "HEADER_CHECKSUM",
  "TRUNCATED",
  "TRAILING_BYTES",
  "RECORDS_CHECKSUM",
  "EPOCH_CHECKSUM",
  "BAD_RECORD",
  "OUT_OF_RANGE",
];

export function codeName(code: number): LabelTableErrorCode {
  const name = CODES[code - 1];
  if (!name) throw new Error(`label-stats module returned unknown error code ${code}`);
  return name;
}

export function moduleError(code: number, reason: number, index: number, v: number, v2: number): LabelTableError {
  const rec = `record ${index}: `;
  const what: Record<number, string> = {
    1: `${v} bytes, shorter than the 64-byte header`,
    2: "the file does not start with 'DLT1': not a label table",
    3: `version ${v}; this reader reads version 1 (upgrade the reader or re-export the table)`,
    4: "header bytes do not match their CRC-32: the file is corrupt",
    5: "reserved byte 33 must be 0",
    6: "run_id must be zero padded",
    7: `classes must be in [1, 65535], got ${v}`,
    8: `images must be ≥ 1, got ${v}`,
    9: `epochs must be ≥ 1, got ${v}`,
    10: `epoch_count must be ≥ 1, got ${v}`,
    11: `epoch_start + epoch_count must be ≤ epochs (${v} + ${v2} too large)`,
    12: `crops_per_image must be in [1, 65535], got ${v}`,
    13: `k must be in [1, min(classes, 255)], got ${v}`,
    14: `quant must be 1 (u8) or 2 (f16), got ${v}`,
    15: "run_id must match [A-Za-z0-9_-]{1,16}",
    16: `unknown flag bits 0x${v.toString(16)} (only bit 0, HAS_BOX, is defined)`,
    17: `record_size ${v} != ${v2} derived from k, quant and flags`,
    18: `the header describes ${v} bytes, the file has ${v2}`,
    19: `${v} bytes after the last record`,
    20: "the epoch CRC table does not match records_crc",
    21: `the records of epoch ${index} do not match their CRC-32`,
    22: `${rec}class id ${v} is not below classes`,
    23: `${rec}class id ${v} appears twice`,
    24: `${rec}probability ${v} is not in [0, 1]`,
    25: `${rec}probabilities are not in descending order`,
    26: `${rec}probabilities sum to ${v.toFixed(4)} > 1`,
    27: `${rec}flip byte ${v} is not 0 or 1`,
    28: `position (epoch offset ${index}, slot ${v}) is outside the table, or the records run past the end of an epoch`,
    29: `${v} images; the inspector handles at most ${v2} (split the table)`,
    30: "no header has been read yet (call begin first)",
  };
  return new LabelTableError(codeName(code), what[reason] ?? `reason ${reason}`);
}
