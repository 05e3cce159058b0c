// Label tables (format: SPEC.md): compact, checksummed, random-access per-crop soft labels.
export * from "./errors.ts";
export {
  HEADER_BYTES,
  QUANT_U8,
  QUANT_F16,
  FLAG_HAS_BOX,
  recordSize,
  hasBox,
  encodeHeader,
  decodeHeader,
  type LabelTableHeader,
  type HeaderFields,
} from "./header.ts";
export { recordsStart, recordOffset, batchRange, epochBytes, tableBytes } from "./layout.ts";
export {
  quantizeTopK,
  decodeRecords,
  reconstructDense,
  sumTolerance,
  type DecodedRecords,
  type BoxRecord,
} from "./records.ts";
export { LabelTableWriter, encodeLabelTable, type WriterFields } from "./writer.ts";
export { decodeLabelTable, type LabelTable } from "./decoder.ts";
export { mergeLabelTableShards } from "./merge.ts";
export { toHalf, fromHalf } from "./half.ts";
