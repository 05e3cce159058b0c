// PUT /v1/runs/:run/images/:index (worker scoped to the run): one synthetic image as PNG,
// checked against the run (header first: size, channels, depth; then its inflated size; then
// a full decode) and its SHA-256. Images are small: the body is read
// whole, checked, then written in one R2 put (atomic: readers see the old state or the new one).
import { Hono } from "hono";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { parseIntParam, parseRunId } from "../params.ts";
import { checkRunPng, decodeRunImage, MAX_IMAGE_BYTES } from "../storage/images.ts";
import { keys } from "../storage/keys.ts";
import { loadManifest } from "../storage/runs.ts";
import { hex } from "../workers-globals.ts";
import { readBodyCapped } from "./read-body.ts";
import { uploadHeaders } from "./upload-headers.ts";

export const imageRoutes = new Hono<AppEnv>().put("/:run/images/:index", async (c) => {
  const claims = requireRole(c, "worker");
  const run = parseRunId(c.req.param("run"));
  requireRun(claims, run);
  const m = await loadManifest(c.env.BUCKET, run);
  const index = parseIntParam("image index", c.req.param("index"), 0, m.images - 1);
  const { length, sha256 } = uploadHeaders(
    c,
    MAX_IMAGE_BYTES,
    "an image of the run is far smaller; check that this is the right file",
  );
  const body = await readBodyCapped(c.req.raw, {
    max: length,
    expected: length,
    tooLarge: () => new ApiError(400, "BAD_PARAM", `the body is longer than its Content-Length (${length})`),
  });
  const actual = hex(await crypto.subtle.digest("SHA-256", body));
  if (actual !== sha256)
    throw new ApiError(
      400,
      "SHA256_MISMATCH",
      `the body's SHA-256 is ${actual}, x-content-sha256 says ${sha256}: nothing was stored`,
    );
  await checkRunPng(body, m, `image ${index}`);
  decodeRunImage(body, m, `image ${index}`);
  const key = keys.image(run, index);
  let stored = await c.env.BUCKET.head(key);
  if (!stored) {
    // Create-only (R2 If-None-Match: *): of two uploads racing for one index, exactly one stores.
    const put = await c.env.BUCKET.put(key, body, {
      onlyIf: { etagDoesNotMatch: "*" },
      sha256,
      customMetadata: { sha256 },
      httpMetadata: { contentType: "image/png" },
    });
    if (put) return c.json({ image: index, bytes: length, sha256 }, 201);
    stored = await c.env.BUCKET.head(key); // the other upload won: judge against what it stored
  }
  if (stored?.customMetadata?.sha256 === sha256)
    return c.json({ image: index, bytes: length, sha256, unchanged: true });
  throw new ApiError(
    409,
    "IMAGE_EXISTS",
    `image ${index} of run ${run} is already stored with other content; images are immutable`,
  );
});
