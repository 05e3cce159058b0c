// One Durable Object per run serialises every change to the run's published label tables:
// publishing a staged shard (create-only, no overlap with a published one) and taking a shard
// out of service (quarantine). Uploads stream and are checked outside it, in parallel; only the
// short decide-and-write step runs here, one at a time, so two uploads racing for the same
// shard or for overlapping epochs cannot both publish: exactly one gets 201, the other 409.
// The final put is also conditional on the key being absent (R2 `If-None-Match: *`).
import type { DurableObjectNamespace, DurableObjectState, R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import type { Env } from "../env.ts";
import { ApiError, errorBody, type ErrorCode } from "../errors.ts";
import type { RunId } from "../params.ts";
import { keys } from "./keys.ts";
import { appendLog, type LogEntry } from "./run-log.ts";
import { listShards } from "./shards.ts";

/**
 * A staged object exists only from the end of its upload until its publish has copied it (then
 * the request deletes it): one still there this long after it was written is the leftover of a
 * request that died (a crash, a restart), and the next publish of the run deletes it.
 */
export const STALE_UPLOAD_MS = 15 * 60 * 1000;

export interface PublishRequest {
  run: RunId;
  shard: number;
  tmpKey: string;
  sha256: string;
  bytes: number;
  /** The table header, base64 (stored as custom metadata), and its epoch range. */
  header: string;
  epochStart: number;
  epochCount: number;
}

export type PublishResult = { published: true } | { unchanged: true; bytes: number };

export interface QuarantineRequest {
  run: RunId;
  shard: number;
  reason: string;
  keep: boolean;
  by: { sub?: string; jti: string };
}

export class RunPublisher {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly state: DurableObjectState,
    readonly env: Env,
  ) {}

  /** Runs `task` after every task queued before it (R2 calls would otherwise interleave). */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async fetch(request: Request): Promise<Response> {
    try {
      const path = new URL(request.url).pathname;
      const body = (await request.json()) as PublishRequest & QuarantineRequest;
      const result =
        path === "/publish"
          ? await this.serial(() => publish(this.env.BUCKET, body))
          : path === "/quarantine"
            ? await this.serial(() => quarantine(this.env.BUCKET, body))
            : null;
      if (result === null) return Response.json(errorBody("NOT_FOUND", `no publisher action ${path}`), { status: 404 });
      return Response.json(result);
    } catch (e) {
      if (e instanceof ApiError) return Response.json(errorBody(e.code, e.message), { status: e.status });
      throw e;
    }
  }
}

async function publish(bucket: R2Bucket, p: PublishRequest): Promise<PublishResult> {
  const finalKey = keys.table(p.run, p.shard);
  const existing = await bucket.head(finalKey);
  if (existing) {
    if (existing.customMetadata?.sha256 === p.sha256) return { unchanged: true, bytes: existing.size };
    throw shardExists(p);
  }
  const end = p.epochStart + p.epochCount;
  const clash = (await listShards(bucket, p.run)).find(
    (s) => s.shard !== p.shard && s.header.epochStart < end && p.epochStart < s.header.epochStart + s.header.epochCount,
  );
  if (clash) {
    throw new ApiError(
      409,
      "SHARD_OVERLAP",
      `epochs ${p.epochStart}..${end - 1} overlap shard ${clash.shard} (epochs ${clash.header.epochStart}..${clash.header.epochStart + clash.header.epochCount - 1}); an admin can quarantine a bad shard (POST /v1/runs/${p.run}/tables/${clash.shard}/quarantine)`,
    );
  }
  const staged = await bucket.get(p.tmpKey);
  if (!staged) throw new ApiError(500, "INTERNAL", "the staged upload vanished before publishing: upload again");
  const put = await bucket.put(finalKey, staged.body, {
    onlyIf: { etagDoesNotMatch: "*" },
    sha256: p.sha256,
    customMetadata: { sha256: p.sha256, header: p.header },
    httpMetadata: { contentType: "application/vnd.distill.label-table" },
  });
  if (!put) throw shardExists(p);
  await sweepStaleUploads(bucket, p.run, p.tmpKey);
  return { published: true };
}

const shardExists = (p: { run: RunId; shard: number }) =>
  new ApiError(
    409,
    "SHARD_EXISTS",
    `shard ${p.shard} of run ${p.run} is already published with other content; shards are immutable: use a new shard number (or an admin quarantines the published one)`,
  );

/** Deletes staged uploads of `run` left behind by requests that died (crash, restart). */
async function sweepStaleUploads(bucket: R2Bucket, run: RunId, keep: string): Promise<void> {
  const prefix = keys.uploadsPrefix(run);
  const cutoff = Date.now() - STALE_UPLOAD_MS;
  const stale: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    for (const o of page.objects) {
      if (o.key !== keep && o.uploaded.getTime() < cutoff) stale.push(o.key);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  for (let i = 0; i < stale.length; i += 1000) await bucket.delete(stale.slice(i, i + 1000));
}

async function quarantine(bucket: R2Bucket, q: QuarantineRequest): Promise<LogEntry> {
  const finalKey = keys.table(q.run, q.shard);
  const obj = await bucket.get(finalKey);
  if (!obj)
    throw new ApiError(
      404,
      "TABLE_NOT_FOUND",
      `shard ${q.shard} of run ${q.run} is not published: nothing to quarantine`,
    );
  const at = Date.now();
  const header = obj.customMetadata?.header ?? "";
  let movedTo: string | undefined;
  if (q.keep) {
    movedTo = keys.quarantine(q.run, q.shard, at);
    await bucket.put(movedTo, obj.body, { customMetadata: { ...obj.customMetadata, reason: q.reason } });
  } else {
    await obj.body.cancel();
  }
  await bucket.delete(finalKey);
  const entry: LogEntry = {
    at: new Date(at).toISOString(),
    action: q.keep ? "quarantine" : "delete",
    shard: q.shard,
    sha256: obj.customMetadata?.sha256 ?? "",
    bytes: obj.size,
    header,
    reason: q.reason,
    by: q.by,
    ...(movedTo ? { movedTo } : {}),
  };
  await appendLog(bucket, q.run, entry);
  return entry;
}

/** The run's publisher (one object per run id). */
export async function callPublisher<T>(
  ns: DurableObjectNamespace,
  run: RunId,
  action: "publish" | "quarantine",
  body: PublishRequest | QuarantineRequest,
): Promise<T> {
  const stub = ns.get(ns.idFromName(run));
  const r = await stub.fetch(`https://publisher/${action}`, { method: "POST", body: JSON.stringify(body) });
  const json = (await r.json()) as T & { error?: { code: ErrorCode; message: string } };
  if (!r.ok) {
    const e = json.error;
    throw new ApiError(
      r.status as 409,
      e?.code ?? "INTERNAL",
      e?.message ?? `the run's publisher answered ${r.status}: try again`,
    );
  }
  return json;
}
