// Request bodies in JSON, size-limited before parsing.
import type { Context } from "hono";
import { ApiError } from "../errors.ts";

export const MAX_JSON_BYTES = 1024 * 1024;

export async function readJson(c: Context): Promise<unknown> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_JSON_BYTES)
    throw new ApiError(413, "TOO_LARGE", `JSON bodies are limited to ${MAX_JSON_BYTES} bytes`);
  const text = await c.req.text();
  if (text.length > MAX_JSON_BYTES)
    throw new ApiError(413, "TOO_LARGE", `JSON bodies are limited to ${MAX_JSON_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "BAD_JSON", "the body is not valid JSON");
  }
}
