// The headers every upload must carry: Content-Length (bounded) and the body's SHA-256.
import type { Context } from "hono";
import { ApiError } from "../errors.ts";

export function uploadHeaders(c: Context, maxBytes: number, fix: string): { length: number; sha256: string } {
  const sha256 = c.req.header("x-content-sha256")?.toLowerCase();
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ApiError(
      400,
      "SHA256_REQUIRED",
      "send the body's SHA-256 as 64 hex digits in the x-content-sha256 header (e.g. `sha256sum file`)",
    );
  }
  const raw = c.req.header("content-length");
  if (raw === undefined || !/^[0-9]{1,16}$/.test(raw))
    throw new ApiError(411, "LENGTH_REQUIRED", "send Content-Length: uploads are not accepted chunked");
  const length = Number(raw);
  if (length < 1) throw new ApiError(400, "BAD_PARAM", "the body is empty");
  if (length > maxBytes)
    throw new ApiError(413, "TOO_LARGE", `the body is ${length} bytes; the limit here is ${maxBytes}: ${fix}`);
  return { length, sha256 };
}
