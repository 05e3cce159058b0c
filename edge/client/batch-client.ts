// Training client of the edge batch stream: an async iterator over (epoch, batch) that fetches
// each batch message with retries (exponential backoff with jitter) and a bounded prefetch
// window (at most `prefetch` requests ahead of the consumer: back-pressure), and yields typed
// arrays ready for a training step. Plain fetch: runs in Node ≥ 20 and browsers.
import { reconstructDense } from "../../shared/label-table/records.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { BatchFormatError, decodeBatch, type DecodedBatch } from "../../shared/batch-format.ts";

export interface BatchClientOptions {
  /** e.g. "http://127.0.0.1:8787" */
  baseUrl: string;
  /** A trainer token scoped to the run. */
  token: string;
  run: string;
  /** Slots per batch (the last batch of an epoch may be smaller). */
  batchSize: number;
  /** Ask the edge for the crop pixels too. */
  pixels?: boolean;
  /** Requests in flight ahead of the consumer (default 2). */
  prefetch?: number;
  /** Attempts per request beyond the first (default 5). */
  retries?: number;
  /** First backoff delay, doubled each retry up to maxBackoffMs (defaults 100 and 5000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Injected fetch (tests, custom agents); defaults to globalThis.fetch. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Called before each retry (logging); never sees the token. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** A request the edge refused for good (4xx other than 408/429): retrying would not help. */
export class BatchClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`edge ${status} ${code}: ${message}`);
    this.name = "BatchClientError";
  }
}

export interface TrainingBatch extends DecodedBatch {
  /** Dense soft labels, crops × classes (remaining mass spread as SPEC.md says). */
  dense(): Float32Array;
}

export interface Position {
  epoch: number;
  batch: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** GET with retries: network errors, 5xx, 408 and 429 back off exponentially (with jitter). */
async function requestWithRetry(
  o: BatchClientOptions,
  fetchFn: (input: string, init?: RequestInit) => Promise<Response>,
  url: string,
  signal?: AbortSignal,
): Promise<Response> {
  const retries = o.retries ?? 5;
  let delay = o.backoffMs ?? 100;
  for (let attempt = 0; ; attempt++) {
    let reason: string;
    try {
      const res = await fetchFn(url, { headers: { authorization: `Bearer ${o.token}` }, signal });
      if (res.ok) return res;
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      const code = body?.error?.code ?? "HTTP_ERROR";
      const message = body?.error?.message ?? res.statusText;
      if (res.status < 500 && res.status !== 408 && res.status !== 429)
        throw new BatchClientError(res.status, code, message);
      reason = `${res.status} ${code}`;
    } catch (e) {
      if (e instanceof BatchClientError || signal?.aborted) throw e;
      reason = e instanceof Error ? e.message : String(e);
    }
    if (attempt >= retries) throw new Error(`${url}: gave up after ${attempt + 1} attempts (last: ${reason})`);
    const wait = Math.min(delay, o.maxBackoffMs ?? 5000) * (0.5 + Math.random() / 2);
    o.onRetry?.({ url, attempt: attempt + 1, delayMs: wait, reason });
    await sleep(wait);
    delay *= 2;
  }
}

export class BatchClient {
  private readonly fetchFn: (input: string, init?: RequestInit) => Promise<Response>;
  private readonly base: string;

  private constructor(
    private readonly o: BatchClientOptions,
    readonly manifest: RunManifest,
  ) {
    this.fetchFn = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.base = o.baseUrl.replace(/\/+$/, "");
  }

  /** Reads (and validates) the run's manifest, then streams its batches. */
  static async open(o: BatchClientOptions): Promise<BatchClient> {
    if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
      throw new RangeError(`batchSize must be a positive integer, got ${o.batchSize}`);
    const fetchFn = o.fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
    const res = await requestWithRetry(
      o,
      fetchFn,
      `${o.baseUrl.replace(/\/+$/, "")}/v1/runs/${encodeURIComponent(o.run)}/manifest`,
    );
    return new BatchClient(o, parseManifest(await res.json()));
  }

  get epochs(): number {
    return this.manifest.relabel.epochs;
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.manifest.images / this.o.batchSize);
  }

  private request(path: string, signal?: AbortSignal): Promise<Response> {
    return requestWithRetry(this.o, this.fetchFn, this.base + path, signal);
  }

  /** One batch, decoded; a body cut short is retried like a dropped connection. */
  async fetchBatch(epoch: number, batch: number, signal?: AbortSignal): Promise<TrainingBatch> {
    const q = `size=${this.o.batchSize}${this.o.pixels ? "&pixels=1" : ""}`;
    const path = `/v1/runs/${encodeURIComponent(this.o.run)}/batches/${epoch}/${batch}?${q}`;
    const retries = this.o.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      const res = await this.request(path, signal);
      try {
        const decoded = decodeBatch(await res.arrayBuffer());
        if (decoded.epoch !== epoch || decoded.batch !== batch)
          throw new BatchFormatError(`asked for epoch ${epoch} batch ${batch}, got ${decoded.epoch}/${decoded.batch}`);
        return withDense(decoded);
      } catch (e) {
        if (signal?.aborted || attempt >= retries) throw e;
        // A connection dropped mid-body surfaces here (read error or a short message).
        await sleep(Math.min((this.o.backoffMs ?? 100) * 2 ** attempt, this.o.maxBackoffMs ?? 5000));
      }
    }
  }

  /**
   * Every batch from `from` (default epoch 0, batch 0) up to the end of epoch `toEpoch − 1`,
   * in order, with at most `prefetch` requests running ahead. Breaking out of the loop cancels
   * the requests in flight.
   */
  async *batches(from: Position = { epoch: 0, batch: 0 }, toEpoch = this.epochs): AsyncGenerator<TrainingBatch> {
    const per = this.batchesPerEpoch;
    const window = Math.max(1, this.o.prefetch ?? 2);
    const abort = new AbortController();
    const pending: Promise<TrainingBatch>[] = [];
    let next = from.epoch * per + from.batch;
    const end = toEpoch * per;
    const issue = () => {
      const at = next++;
      const p = this.fetchBatch(Math.floor(at / per), at % per, abort.signal);
      p.catch(() => undefined); // awaited below in order; this only silences early rejections
      pending.push(p);
    };
    try {
      while (next < end || pending.length) {
        while (pending.length < window && next < end) issue();
        yield await pending.shift()!;
      }
    } finally {
      abort.abort();
    }
  }
}

function withDense(d: DecodedBatch): TrainingBatch {
  return Object.assign(d, {
    dense(): Float32Array {
      const out = new Float32Array(d.crops * d.classes);
      for (let i = 0; i < d.crops; i++)
        reconstructDense(d.ids, d.probs, d.k, d.classes, i * d.k, out.subarray(i * d.classes, (i + 1) * d.classes));
      return out;
    },
  });
}
