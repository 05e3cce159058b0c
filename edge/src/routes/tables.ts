// PUT /v1/runs/:run/tables/:shard (worker scoped to the run): one label-table shard, streamed
// (never held whole) into a temporary key while its SHA-256 and its table checks (header vs
// manifest, epoch CRCs) run on the same bytes; only when all pass is it published under its
// final key, which is one atomic R2 put. A failed or cut-off upload leaves nothing listed.
import { Hono } from "hono";
import type { ReadableStream as WorkersReadableStream } from "@cloudflare/workers-types/latest/index.ts";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { parseIntParam, parseRunId } from "../params.ts";
import { keys } from "../storage/keys.ts";
import { loadManifest } from "../storage/runs.ts";
import { encodeBase64, invalidateShards, listShards, MAX_SHARD } from "../storage/shards.ts";
import { TableCheck } from "../tables/table-check.ts";
import { hex, newFixedLengthStream, newSha256Stream } from "../workers-globals.ts";
import { uploadHeaders } from "./upload-headers.ts";

/** R2's limit for a single put. */
export const MAX_TABLE_BYTES = 5 * 1000 ** 3 - 5 * 1024 ** 2;

export const tableRoutes = new Hono<AppEnv>().put("/:run/tables/:shard", async (c) => {
  const claims = requireRole(c, "worker");
  const run = parseRunId(c.req.param("run"));
  requireRun(claims, run);
  const shard = parseIntParam("shard", c.req.param("shard"), 0, MAX_SHARD);
  const m = await loadManifest(c.env.BUCKET, run);
  const { length, sha256 } = uploadHeaders(c, MAX_TABLE_BYTES);
  const bucket = c.env.BUCKET;
  const finalKey = keys.table(run, shard);
  const existing = await bucket.head(finalKey);
  if (existing) {
    if (existing.customMetadata?.sha256 === sha256)
      return c.json({ shard, bytes: existing.size, sha256, unchanged: true });
    throw new ApiError(
      409,
      "SHARD_EXISTS",
      `shard ${shard} of run ${run} is already published with other content; shards are immutable: use a new shard number`,
    );
  }
  const body = c.req.raw.body;
  if (!body) throw new ApiError(400, "BAD_PARAM", "the body is empty");

  const check = new TableCheck(m, length);
  const digest = newSha256Stream();
  // Every promise of this pipeline is observed: a cut-off body must fail the request, not
  // surface later as an unhandled rejection.
  digest.digest.catch(() => undefined);
  const hashWriter = digest.getWriter();
  const checker = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, out) {
      check.push(chunk);
      await hashWriter.write(chunk);
      out.enqueue(chunk);
    },
    flush() {
      check.finish();
    },
  });
  const received = body.pipeTo(checker.writable).catch((e: unknown) => {
    hashWriter.abort(e).catch(() => undefined);
  });
  const sized = newFixedLengthStream(length);
  const piped = (checker.readable as unknown as WorkersReadableStream).pipeTo(sized.writable).catch(() => undefined);
  const tmpKey = keys.upload(run, crypto.randomUUID());
  try {
    await bucket.put(tmpKey, sized.readable);
  } catch {
    await Promise.all([received, piped]);
    await bucket.delete(tmpKey);
    throw (
      check.failure ??
      new ApiError(
        400,
        "UPLOAD_ABORTED",
        `the body ended before its ${length} bytes arrived; nothing was published: upload again`,
      )
    );
  }
  try {
    await Promise.all([received, piped]);
    const header = check.finish();
    await hashWriter.close();
    const actual = hex(await digest.digest);
    if (actual !== sha256)
      throw new ApiError(
        400,
        "SHA256_MISMATCH",
        `the body's SHA-256 is ${actual}, x-content-sha256 says ${sha256}: nothing was published`,
      );
    const end = header.epochStart + header.epochCount;
    const clash = (await listShards(bucket, run)).find(
      (s) =>
        s.shard !== shard && s.header.epochStart < end && header.epochStart < s.header.epochStart + s.header.epochCount,
    );
    if (clash) {
      throw new ApiError(
        409,
        "SHARD_OVERLAP",
        `epochs ${header.epochStart}..${end - 1} overlap shard ${clash.shard} (epochs ${clash.header.epochStart}..${clash.header.epochStart + clash.header.epochCount - 1})`,
      );
    }
    const staged = await bucket.get(tmpKey);
    if (!staged) throw new ApiError(500, "INTERNAL", "the staged upload vanished before publishing: upload again");
    await bucket.put(finalKey, staged.body, {
      sha256,
      customMetadata: { sha256, header: encodeBase64(check.headerBytes) },
      httpMetadata: { contentType: "application/vnd.distill.label-table" },
    });
    invalidateShards(run);
    return c.json({ shard, epochStart: header.epochStart, epochCount: header.epochCount, bytes: length, sha256 }, 201);
  } finally {
    await bucket.delete(tmpKey);
  }
});
