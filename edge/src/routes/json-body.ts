// Request bodies in JSON, size-limited while they arrive (with or without Content-Length).
import type { Context } from "hono";
import { ApiError } from "../errors.ts";
import { readBodyCapped } from "./read-body.ts";

export const MAX_JSON_BYTES = 1024 * 1024;

const tooLarge = () =>
  new ApiError(413, "TOO_LARGE", `JSON bodies are limited to ${MAX_JSON_BYTES} bytes (1 MiB): send a smaller body`);

export async function readJson(c: Context): Promise<unknown> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > MAX_JSON_BYTES) throw tooLarge();
  const bytes = await readBodyCapped(c.req.raw, { max: MAX_JSON_BYTES, tooLarge });
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, "BAD_JSON", "the body is not valid JSON (UTF-8)");
  }
}
