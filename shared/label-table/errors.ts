// Errors of the label-table format: a stable code (SPEC.md, "Errors") and a message that names
// the problem. Decoders throw these and nothing else on bad input.
export type LabelTableErrorCode =
  | "BAD_MAGIC"
  | "BAD_VERSION"
  | "BAD_FLAGS"
  | "BAD_HEADER"
  | "HEADER_CHECKSUM"
  | "TRUNCATED"
  | "TRAILING_BYTES"
  | "RECORDS_CHECKSUM"
  | "EPOCH_CHECKSUM"
  | "BAD_RECORD"
  | "OUT_OF_RANGE";

export class LabelTableError extends Error {
  constructor(
    readonly code: LabelTableErrorCode,
    message: string,
  ) {
    super(`label table ${code}: ${message}`);
    this.name = "LabelTableError";
  }
}
