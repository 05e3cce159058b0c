// Errors of dataset loading. Each names the file (or folder) and what is wrong with it, so the
// user can fix the input without reading our code.

export type DataErrorCode =
  | "NOT_FOUND" // path missing
  | "UNKNOWN_LAYOUT" // a --data path that is neither an IDX folder nor an image folder
  | "BAD_MAGIC" // IDX magic bytes wrong, or an image file that is not PNG/JPEG
  | "BAD_HEADER" // IDX dimensions inconsistent with what the file should hold
  | "TRUNCATED" // fewer bytes than the header announces
  | "TRAILING_BYTES" // more bytes than the header announces
  | "COUNT_MISMATCH" // label count ≠ image count, or train/val shapes disagree
  | "BAD_LABEL" // a label outside [0, classes)
  | "BAD_IMAGE" // an image file that fails to decode
  | "EMPTY_CLASS" // a class folder without images
  | "BAD_OPTION"; // a loader option out of range

export class DataError extends Error {
  constructor(
    readonly code: DataErrorCode,
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "DataError";
  }
}
