// Every error leaves the Worker as JSON `{ error: { code, message } }`; the codes are stable
// (clients branch on them), the messages say what was wrong and how to fix it.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type ErrorCode =
  // 401: who are you?
  | "TOKEN_MISSING"
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "TOKEN_REVOKED"
  // 403: you may not
  | "FORBIDDEN_ROLE"
  | "FORBIDDEN_RUN"
  // 400: the request is malformed
  | "BAD_RUN_ID"
  | "BAD_PARAM"
  | "BAD_JSON"
  | "MANIFEST_INVALID"
  | "SHA256_REQUIRED"
  | "LENGTH_REQUIRED"
  // 404 / 409 / 411 / 413 / 422
  | "NOT_FOUND"
  | "RUN_NOT_FOUND"
  | "LAUNCH_NOT_FOUND"
  | "LAUNCH_EXISTS"
  | "PLAN_INVALID"
  | "TABLE_NOT_FOUND"
  | "IMAGE_NOT_FOUND"
  | "RUN_EXISTS"
  | "SHARD_EXISTS"
  | "IMAGE_EXISTS"
  | "SHARD_OVERLAP"
  | "TOO_LARGE"
  | "SHA256_MISMATCH"
  | "TABLE_INVALID"
  | "TABLE_MISMATCH"
  | "IMAGE_INVALID"
  | "UPLOAD_ABORTED"
  // 503: try again
  | "UNAVAILABLE"
  // 500
  | "CONFIG"
  | "TABLE_CORRUPT"
  | "INTERNAL";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}
