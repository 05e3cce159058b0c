// Reading a whole request body with a byte cap enforced while it arrives (never after), so a
// body without Content-Length, or one longer than it says, cannot make the Worker buffer it.
import { ApiError } from "../errors.ts";

export interface BodyLimits {
  /** Most bytes accepted; more → `tooLarge`. */
  max: number;
  tooLarge: () => ApiError;
  /** The declared Content-Length, when the route requires one: a body that ends short → 400 UPLOAD_ABORTED. */
  expected?: number;
}

export async function readBodyCapped(request: Request, limits: BodyLimits): Promise<Uint8Array<ArrayBuffer>> {
  const body = request.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limits.max) {
        reader.cancel().catch(() => undefined);
        throw limits.tooLarge();
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw aborted(total, limits.expected);
  }
  if (limits.expected !== undefined && total !== limits.expected) throw aborted(total, limits.expected);
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

const aborted = (received: number, expected: number | undefined) =>
  new ApiError(
    400,
    "UPLOAD_ABORTED",
    `the body ended after ${received}${expected === undefined ? "" : ` of ${expected}`} bytes; nothing was stored: upload again`,
  );

/** Unread bodies up to this size are drained (the connection stays usable); larger ones are cancelled. */
export const DRAIN_MAX_BYTES = 1024 * 1024;

/**
 * Releases a request body nobody read (an answer decided from the headers: 401, 403, 409, 413,
 * 200 unchanged…). A large or unannounced body is cancelled: otherwise the runtime waits for all
 * of it before the answer goes out, and a client sending gigabytes (or waiting for `100
 * Continue`) never hears the refusal. A small one (≤ DRAIN_MAX_BYTES by Content-Length) is read
 * and dropped instead, so a keep-alive connection stays in step (wrangler dev's proxy answers
 * the next request on it with 503 "worker restarted mid-request" after a cancel).
 */
export async function releaseUnreadBody(request: Request): Promise<void> {
  const body = request.body;
  if (!body || body.locked) return;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (!(declared <= DRAIN_MAX_BYTES)) return body.cancel().catch(() => undefined);
  const reader = body.getReader();
  try {
    for (let total = 0; ;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.length;
      if (total > DRAIN_MAX_BYTES) return void (await reader.cancel());
    }
  } catch {
    /* the client went away: nothing left to release */
  }
}
