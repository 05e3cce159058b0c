// Uploads a run folder written by the gpu-cluster CLI (manifest.json, labels.dlt,
// images/NNNNNN.png) to the edge: optionally creates the run (admin token), then its images and
// label table (worker token). Idempotent (what is published answers 200 unchanged or 409 for the
// run) and resilient: network errors, 408, 429 and 5xx — wrangler dev's 503 "worker restarted
// mid-request" among them — are retried with exponential backoff and jitter.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseManifest } from "../../shared/manifest.ts";

export interface UploadOptions {
  url: string;
  worker: string;
  admin?: string;
  concurrency?: number;
  /** Attempts after the first (default 6), first delay (default 200 ms, doubled up to maxBackoffMs = 10 s). */
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  fetch?: typeof fetch;
  /** Called before each retry; never sees a token. */
  onRetry?: (info: { path: string; attempt: number; delayMs: number; reason: string }) => void;
  log?: (line: string) => void;
}

export interface UploadSummary {
  runId: string;
  created: boolean;
  images: { uploaded: number; unchanged: number };
  table: Record<string, unknown> | null;
  retries: number;
}

export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function uploadRun(folder: string, o: UploadOptions): Promise<UploadSummary> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")));
  const base = o.url.replace(/\/+$/, "");
  const run = manifest.runId;
  const doFetch = o.fetch ?? fetch;
  const log = o.log ?? (() => undefined);
  let retries = 0;

  /** One request with retries; returns the final response (ok or a refusal not worth retrying). */
  const send = async (path: string, init: () => RequestInit): Promise<Response> => {
    let delay = o.backoffMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      try {
        const r = await doFetch(`${base}${path}`, init());
        if (!retryable(r.status) || attempt >= (o.retries ?? 6)) return r;
        reason = `${r.status} ${(await r.text()).slice(0, 200)}`;
      } catch (e) {
        if (attempt >= (o.retries ?? 6)) throw e;
        reason = e instanceof Error ? e.message : String(e);
      }
      const wait = Math.min(delay, o.maxBackoffMs ?? 10_000) * (0.5 + Math.random() / 2);
      o.onRetry?.({ path, attempt: attempt + 1, delayMs: wait, reason });
      retries++;
      await sleep(wait);
      delay *= 2;
    }
  };

  const put = async (path: string, bytes: Uint8Array<ArrayBuffer>) => {
    const sha = createHash("sha256").update(bytes).digest("hex");
    const r = await send(path, () => ({
      method: "PUT",
      body: bytes,
      headers: { authorization: `Bearer ${o.worker}`, "x-content-sha256": sha },
    }));
    if (!r.ok) throw new UploadError(r.status, `PUT ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, unknown>;
  };

  let created = false;
  if (o.admin) {
    const admin = o.admin;
    const r = await send("/v1/runs", () => ({
      method: "POST",
      body: JSON.stringify(manifest),
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    }));
    if (!r.ok && r.status !== 409) throw new UploadError(r.status, `create run ${run}: ${r.status} ${await r.text()}`);
    created = r.ok;
    log(created ? `created run ${run}` : `run ${run} exists`);
  }

  const imagesDir = join(folder, "images");
  const pngs = existsSync(imagesDir)
    ? readdirSync(imagesDir)
        .filter((f) => /^[0-9]{6}\.png$/.test(f))
        .sort()
    : [];
  let next = 0;
  const images = { uploaded: 0, unchanged: 0 };
  await Promise.all(
    Array.from({ length: o.concurrency ?? 8 }, async () => {
      while (next < pngs.length) {
        const f = pngs[next++];
        const res = await put(
          `/v1/runs/${run}/images/${Number(f.slice(0, 6))}`,
          new Uint8Array(readFileSync(join(imagesDir, f))),
        );
        if (res.unchanged) images.unchanged++;
        else images.uploaded++;
      }
    }),
  );
  log(`images: ${images.uploaded} uploaded, ${images.unchanged} already there, of ${manifest.images}`);
  const tablePath = join(folder, "labels.dlt");
  const table = existsSync(tablePath)
    ? await put(`/v1/runs/${run}/tables/0`, new Uint8Array(readFileSync(tablePath)))
    : null;
  if (table) log(`table shard 0: ${JSON.stringify(table)}`);
  return { runId: run, created, images, table, retries };
}
