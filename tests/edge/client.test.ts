// The training client against the Worker: it resumes after dropped connections (failed
// fetches, bodies cut short, 503s) and still yields exactly the table's labels, keeps at most
// `prefetch` requests ahead of a slow consumer, and does not retry refusals.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeLabelTable, reconstructDense } from "../../shared/label-table/index.ts";
import { BatchClient, BatchClientError } from "../../edge/client/batch-client.ts";
import { BASE, createRun, tableFor, tokenFor, upload } from "./helpers.ts";

const selfFetch = (input: string, init?: RequestInit) => SELF.fetch(input, init);

describe("batch client", () => {
  let run: Awaited<ReturnType<typeof createRun>>;
  let table: ReturnType<typeof decodeLabelTable>;

  beforeAll(async () => {
    run = await createRun({ classes: 7, ipc: 3, epochs: 3, k: 3 }, "cli"); // 21 images
    const bytes = tableFor(run.m);
    table = decodeLabelTable(bytes);
    expect((await upload(`/v1/runs/${run.runId}/tables/0`, run.worker, bytes)).status).toBe(201);
  });

  function expectBatchMatchesTable(b: {
    epoch: number;
    firstSlot: number;
    slots: number;
    k: number;
    ids: Uint16Array;
    probs: Float32Array;
    classes: number;
    dense(): Float32Array;
  }) {
    const dense = b.dense();
    for (let s = 0; s < b.slots; s++) {
      const rec = table.record(b.epoch, b.firstSlot + s);
      expect(Array.from(b.ids.subarray(s * b.k, (s + 1) * b.k))).toEqual(Array.from(rec.ids));
      expect(Array.from(b.probs.subarray(s * b.k, (s + 1) * b.k))).toEqual(Array.from(rec.probs));
      expect(Array.from(dense.subarray(s * b.classes, (s + 1) * b.classes))).toEqual(
        Array.from(reconstructDense(rec.ids, rec.probs, b.k, b.classes)),
      );
    }
  }

  it("resumes after dropped connections, cut-off bodies and 503s; yields every batch once, in order, exactly", async () => {
    let calls = 0;
    const faults = ["throw", "truncate", "503", "ok", "throw", "ok", "truncate"];
    const flaky = async (input: string, init?: RequestInit) => {
      const fault = input.includes("/batches/") ? faults[calls++ % faults.length] : "ok";
      if (fault === "throw") throw new TypeError("fetch failed: connection reset");
      if (fault === "503")
        return new Response(JSON.stringify({ error: { code: "UNAVAILABLE", message: "try later" } }), { status: 503 });
      const r = await selfFetch(input, init);
      if (fault === "truncate") return new Response((await r.arrayBuffer()).slice(0, 100), { status: 200 });
      return r;
    };
    const retries: string[] = [];
    const client = await BatchClient.open({
      baseUrl: BASE,
      token: run.trainer,
      run: run.runId,
      batchSize: 4,
      fetch: flaky,
      backoffMs: 1,
      onRetry: (i) => retries.push(i.reason),
    });
    const seen: string[] = [];
    for await (const b of client.batches()) {
      seen.push(`${b.epoch}/${b.batch}`);
      expectBatchMatchesTable(b);
    }
    const per = Math.ceil(21 / 4);
    expect(seen).toEqual(Array.from({ length: 3 * per }, (_, i) => `${Math.floor(i / per)}/${i % per}`));
    expect(calls).toBeGreaterThan(3 * per);
    expect(retries.some((r) => r.includes("connection reset"))).toBe(true);
    expect(retries.some((r) => r.startsWith("503"))).toBe(true);
  });

  it("starts from a saved position (resume after a restart)", async () => {
    const client = await BatchClient.open({
      baseUrl: BASE,
      token: run.trainer,
      run: run.runId,
      batchSize: 5,
      fetch: selfFetch,
    });
    const seen: string[] = [];
    for await (const b of client.batches({ epoch: 1, batch: 3 }, 2)) seen.push(`${b.epoch}/${b.batch}`);
    expect(seen).toEqual(["1/3", "1/4"]);
  });

  it("back-pressure: never more than `prefetch` requests ahead of a slow consumer", async () => {
    let inFlight = 0,
      maxInFlight = 0,
      issued = 0;
    const counting = async (input: string, init?: RequestInit) => {
      if (!input.includes("/batches/")) return selfFetch(input, init);
      issued++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        const r = await selfFetch(input, init);
        return new Response(await r.arrayBuffer(), { status: r.status });
      } finally {
        inFlight--;
      }
    };
    const client = await BatchClient.open({
      baseUrl: BASE,
      token: run.trainer,
      run: run.runId,
      batchSize: 2,
      prefetch: 3,
      fetch: counting,
    });
    let consumed = 0;
    for await (const b of client.batches()) {
      expectBatchMatchesTable(b);
      consumed++;
      expect(issued).toBeLessThanOrEqual(consumed + 3);
      await new Promise((r) => setTimeout(r, 2));
      if (consumed === 6) break;
    }
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(issued).toBeLessThanOrEqual(6 + 3);
  });

  it("refusals are not retried: a token for another run → BatchClientError 403 FORBIDDEN_RUN after one call", async () => {
    let calls = 0;
    const counting = (input: string, init?: RequestInit) => (calls++, selfFetch(input, init));
    const stranger = await tokenFor("trainer", ["not-this-run"]);
    const err = await BatchClient.open({
      baseUrl: BASE,
      token: stranger,
      run: run.runId,
      batchSize: 4,
      fetch: counting,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(BatchClientError);
    expect([err.status, err.code]).toEqual([403, "FORBIDDEN_RUN"]);
    expect(calls).toBe(1);
  });
});
