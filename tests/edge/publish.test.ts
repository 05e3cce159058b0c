// Publishing label-table shards under concurrency (issue 16, items 1, 2, 5): two workers racing
// for the same shard or for overlapping epochs → exactly one 201, the other 409, and readers
// only ever see the winner's labels; a shard whose records are invalid (CRCs recomputed, so
// only record validation can catch it) is refused while it streams; an admin can quarantine a
// published shard (audited in the run's log) so its epochs upload again; staged leftovers of
// crashed uploads are swept by the next publish.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { crc32 } from "../../shared/checksum.ts";
import {
  decodeHeader,
  decodeLabelTable,
  encodeHeader,
  epochBytes,
  HEADER_BYTES,
  recordsStart,
} from "../../shared/label-table/index.ts";
import { decodeBatch } from "../../shared/batch-format.ts";
import { uniform } from "../../shared/random.ts";
import {
  call,
  createRun,
  errorCode,
  imageFor,
  manifestFor,
  newRunId,
  otherTableFor,
  pausedBody,
  sha256Hex,
  tableFor,
  tokenFor,
  upload,
} from "./helpers.ts";

/** PUT `bytes` in chunks of random sizes (1–40 bytes), so records straddle chunk borders. */
async function uploadChunked(path: string, token: string, bytes: Uint8Array, seed: number): Promise<Response> {
  let sent = 0,
    n = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const end = Math.min(bytes.length, sent + 1 + Math.floor(uniform(seed, n++) * 40));
      controller.enqueue(bytes.slice(sent, end));
      sent = end;
      if (sent >= bytes.length) controller.close();
    },
  });
  return call(path, {
    token,
    method: "PUT",
    body: stream,
    headers: { "x-content-sha256": await sha256Hex(bytes), "content-length": String(bytes.length) },
  });
}

/** Starts a PUT whose body stops at 60 % until released; resolves once that much was sent. */
async function startPausedUpload(path: string, token: string, bytes: Uint8Array) {
  const body = pausedBody(bytes, Math.floor(bytes.length * 0.6));
  const response = call(path, {
    token,
    method: "PUT",
    body: body.stream,
    headers: { "x-content-sha256": await sha256Hex(bytes), "content-length": String(bytes.length) },
  }).then(async (r) => `${r.status} ${r.status === 201 ? "" : await errorCode(r)}`.trim());
  while (body.sent() < Math.floor(bytes.length * 0.6)) await new Promise((r) => setTimeout(r, 2));
  return { release: body.release, response };
}

/** Labels (ids and probs) of one batch as a comparable string, or the status when not 200. */
async function readBatch(runId: string, trainer: string, epoch: number, size: number): Promise<string> {
  const r = await call(`/v1/runs/${runId}/batches/${epoch}/0?size=${size}`, { token: trainer });
  if (r.status !== 200) return `${r.status} ${await errorCode(r)}`;
  const d = decodeBatch(await r.arrayBuffer());
  return `${Array.from(d.ids)}|${Array.from(d.probs)}`;
}

function expectedBatch(table: Uint8Array, epoch: number, size: number): string {
  const t = decodeLabelTable(table);
  const ids: number[] = [],
    probs: number[] = [];
  for (let s = 0; s < size; s++) {
    const rec = t.record(epoch, s);
    ids.push(...rec.ids);
    probs.push(...rec.probs);
  }
  return `${ids}|${probs}`;
}

/** Rewrites the table's class ids with `id` and recomputes every CRC, so only record checks can tell. */
function withClassIds(table: Uint8Array, id: (record: number, j: number) => number): Uint8Array {
  const out = table.slice();
  const h = decodeHeader(out);
  const v = new DataView(out.buffer);
  const start = recordsStart(h);
  const records = h.epochCount * h.images * h.cropsPerImage;
  for (let r = 0; r < records; r++)
    for (let j = 0; j < h.k; j++) v.setUint16(start + r * h.recordSize + 2 * j, id(r, j), true);
  const per = epochBytes(h);
  for (let e = 0; e < h.epochCount; e++)
    v.setUint32(HEADER_BYTES + 4 * e, crc32(out.subarray(start + e * per, start + (e + 1) * per)), true);
  const recordsCrc = crc32(out.subarray(HEADER_BYTES, start));
  out.set(encodeHeader(h, recordsCrc), 0);
  return out;
}

describe("concurrent publishes", () => {
  it("R2 put with onlyIf etagDoesNotMatch '*' is create-only under miniflare (as documented)", async () => {
    const key = `uploads/cond-test/${crypto.randomUUID()}`;
    const first = await env.BUCKET.put(key, "a", { onlyIf: { etagDoesNotMatch: "*" } });
    const second = await env.BUCKET.put(key, "b", { onlyIf: { etagDoesNotMatch: "*" } });
    expect([first !== null, second]).toEqual([true, null]);
    expect(await (await env.BUCKET.get(key))!.text()).toBe("a");
    await env.BUCKET.delete(key);
  });

  it("same shard, different bytes, at the same moment → one 201, one 409 SHARD_EXISTS; readers see one version", async () => {
    for (let trial = 0; trial < 3; trial++) {
      const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 20, epochs: 2, k: 3 }, "race");
      const a = tableFor(m);
      const b = otherTableFor(m, 1000 + trial);
      const ua = await startPausedUpload(`/v1/runs/${runId}/tables/0`, worker, a);
      const ub = await startPausedUpload(`/v1/runs/${runId}/tables/0`, worker, b);
      let reading = true;
      const seen = new Set<string>();
      const reader = (async () => {
        while (reading) seen.add(await readBatch(runId, trainer, 1, 8));
      })();
      // Release in a random order: either may win.
      if (uniform(3, trial) < 0.5) [ua.release, ub.release].forEach((f) => f());
      else [ub.release, ua.release].forEach((f) => f());
      const outcomes = await Promise.all([ua.response, ub.response]);
      for (let i = 0; i < 5; i++) seen.add(await readBatch(runId, trainer, 1, 8));
      reading = false;
      await reader;
      expect([...outcomes].sort()).toEqual(["201", "409 SHARD_EXISTS"]);
      const winner = outcomes[0] === "201" ? a : b;
      seen.delete("404 TABLE_NOT_FOUND");
      expect([...seen]).toEqual([expectedBatch(winner, 1, 8)]);
      expect((await env.BUCKET.list({ prefix: `uploads/${runId}/` })).objects).toEqual([]);
    }
  });

  it("overlapping epochs under two shard numbers at the same moment → one 201, one 409 SHARD_OVERLAP", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 20, epochs: 4, k: 3 }, "ovr");
    const ua = await startPausedUpload(`/v1/runs/${runId}/tables/0`, worker, tableFor(m, 0, 3));
    const ub = await startPausedUpload(`/v1/runs/${runId}/tables/1`, worker, tableFor(m, 2, 2));
    ua.release();
    ub.release();
    expect((await Promise.all([ua.response, ub.response])).sort()).toEqual(["201", "409 SHARD_OVERLAP"]);
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
      tables: { shards: unknown[] };
    };
    expect(status.tables.shards).toHaveLength(1);
  });
});

describe("concurrent creates of images and runs", () => {
  it("same image index, different bytes, at once → one 201, one 409 IMAGE_EXISTS; same bytes → 201 + 200", async () => {
    const { runId, m, worker } = await createRun({ classes: 4, ipc: 2, epochs: 1, k: 1, sourceSize: 8 }, "img");
    for (let i = 0; i < 4; i++) {
      const a = imageFor(m, i).png;
      const b = imageFor(m, i + 100).png;
      // Both bodies arrive up to half, then both complete at the same moment.
      const ua = await startPausedUpload(`/v1/runs/${runId}/images/${i}`, worker, a);
      const ub = await startPausedUpload(`/v1/runs/${runId}/images/${i}`, worker, b);
      ua.release();
      ub.release();
      const outcomes = await Promise.all([ua.response, ub.response]);
      expect([...outcomes].sort()).toEqual(["201", "409 IMAGE_EXISTS"]);
      const winner = outcomes[0] === "201" ? a : b;
      const stored = await env.BUCKET.get(`runs/${runId}/images/${String(i).padStart(6, "0")}.png`);
      expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(winner);
    }
    const same = imageFor(m, 7).png;
    const twice = await Promise.all([0, 1].map(() => upload(`/v1/runs/${runId}/images/7`, worker, same)));
    expect(twice.map((r) => r.status).sort()).toEqual([200, 201]);
  });

  it("two admins creating one run id at once → one 201, one 409 RUN_EXISTS, the winner's manifest kept", async () => {
    const admin = await tokenFor("admin", "*");
    for (let t = 0; t < 3; t++) {
      const runId = newRunId("dup");
      const manifests = [2, 3].map((ipc) => manifestFor(runId, { classes: 2, ipc, epochs: 1, k: 1 }));
      const rs = await Promise.all(manifests.map((json) => call("/v1/runs", { token: admin, method: "POST", json })));
      expect(rs.map((r) => r.status).sort()).toEqual([201, 409]);
      const kept = (await (await env.BUCKET.get(`runs/${runId}/manifest.json`))!.json()) as { ipc: number };
      expect(kept.ipc).toBe(rs[0].status === 201 ? 2 : 3);
    }
  });
});

describe("record validation while streaming", () => {
  it("every class id 65535 with CRCs recomputed → 422 TABLE_INVALID naming the record; nothing published", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 4, epochs: 2, k: 3 }, "ids");
    const bad = withClassIds(tableFor(m), () => 65535);
    expect(() => decodeHeader(bad)).not.toThrow(); // a well-formed table as far as checksums go
    const r = await upload(`/v1/runs/${runId}/tables/0`, worker, bad);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect([r.status, body.error.code]).toEqual([422, "TABLE_INVALID"]);
    expect(body.error.message).toMatch(/epoch 0: .*record 0: class id 65535 ≥ classes 6/);
    const s = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
      tables: { epochsPresent: number };
    };
    expect(s.tables.epochsPresent).toBe(0);
  });

  it("randomised: one bad record anywhere (id out of range or repeated) is found, split across any chunking", async () => {
    const { runId, m, worker } = await createRun({ classes: 5, ipc: 7, epochs: 3, k: 3 }, "rnd");
    const good = tableFor(m);
    const records = 3 * m.images;
    for (let t = 0; t < 6; t++) {
      const target = Math.floor(uniform(11, t) * records);
      const repeat = t % 2 === 1;
      const orig = decodeLabelTable(good);
      const bad = withClassIds(good, (r, j) => {
        const rec = orig.record(Math.floor(r / m.images), r % m.images);
        if (r !== target) return rec.ids[j];
        return repeat ? rec.ids[0] : j === 2 ? 5 + t : rec.ids[j];
      });
      const r = await uploadChunked(`/v1/runs/${runId}/tables/0`, worker, bad, t);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect([r.status, body.error.code]).toEqual([422, "TABLE_INVALID"]);
      expect(body.error.message).toContain(`epoch ${Math.floor(target / m.images)}: `);
      expect(body.error.message).toContain(`record ${target % m.images}: class id`);
    }
    expect((await uploadChunked(`/v1/runs/${runId}/tables/0`, worker, good, 99)).status).toBe(201);
  });
});

describe("quarantine (admin)", () => {
  it("takes a shard out of service, logs who and why, and lets its epochs upload again", async () => {
    const { runId, m, admin, worker, trainer } = await createRun({ classes: 6, ipc: 2, epochs: 2, k: 3 }, "qua");
    const a = tableFor(m);
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, a)).status).toBe(201);
    expect(await readBatch(runId, trainer, 1, 4)).toBe(expectedBatch(a, 1, 4));
    const path = `/v1/runs/${runId}/tables/0/quarantine`;
    for (const [token, want] of [
      [worker, "403 FORBIDDEN_ROLE"],
      [trainer, "403 FORBIDDEN_ROLE"],
    ] as const) {
      const r = await call(path, { token, method: "POST", json: { reason: "x" } });
      expect(`${r.status} ${await errorCode(r)}`).toBe(want);
    }
    const noReason = await call(path, { token: admin, method: "POST", json: {} });
    expect(`${noReason.status} ${await errorCode(noReason)}`).toBe("400 BAD_PARAM");
    const missing = await call(`/v1/runs/${runId}/tables/5/quarantine`, {
      token: admin,
      method: "POST",
      json: { reason: "x" },
    });
    expect(`${missing.status} ${await errorCode(missing)}`).toBe("404 TABLE_NOT_FOUND");

    const q = await call(path, { token: admin, method: "POST", json: { reason: "labels from the wrong teacher" } });
    expect(q.status).toBe(200);
    expect(await readBatch(runId, trainer, 1, 4)).toBe("404 TABLE_NOT_FOUND");
    const kept = await env.BUCKET.list({ prefix: `quarantine/${runId}/` });
    expect(kept.objects.map((o) => o.size)).toEqual([a.length]);

    const b = otherTableFor(m, 77);
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, b)).status).toBe(201);
    expect(await readBatch(runId, trainer, 1, 4)).toBe(expectedBatch(b, 1, 4));

    const log = (await (await call(`/v1/runs/${runId}/log`, { token: admin })).json()) as {
      entries: { action: string; shard: number; sha256: string; reason: string; by: { jti: string } }[];
    };
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      action: "quarantine",
      shard: 0,
      sha256: await sha256Hex(a),
      reason: "labels from the wrong teacher",
    });
    expect(log.entries[0].by.jti).toMatch(/^[0-9a-f]{32}$/);
    const asWorker = await call(`/v1/runs/${runId}/log`, { token: worker });
    expect(asWorker.status).toBe(403);
  });

  it("a reader whose cached listing is stale never reads the new bytes with the old header", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 3, epochs: 2, k: 3 }, "stl");
    const a = tableFor(m);
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, a)).status).toBe(201);
    expect(await readBatch(runId, trainer, 0, 6)).toBe(expectedBatch(a, 0, 6));
    // Another isolate replaces the shard (here: straight in R2, bypassing this isolate's cache).
    const b = otherTableFor(m, 5, 1, 1);
    const key = `runs/${runId}/tables/0000.dlt`;
    await env.BUCKET.delete(key);
    await env.BUCKET.put(key, b, {
      customMetadata: { sha256: await sha256Hex(b), header: btoa(String.fromCharCode(...b.subarray(0, 64))) },
    });
    expect(await readBatch(runId, trainer, 1, 6)).toBe(expectedBatch(b, 1, 6));
    expect(await readBatch(runId, trainer, 0, 6)).toBe("404 TABLE_NOT_FOUND");
  });
});

describe("staging cleanup", () => {
  it("a publish deletes staged objects written more than 15 min ago (a crashed request's), not recent ones", async () => {
    const { runId, m, worker } = await createRun({ classes: 6, ipc: 2, epochs: 4, k: 3 }, "swp");
    const leftover = `uploads/${runId}/${Date.now()}-crashed`;
    await env.BUCKET.put(leftover, new Uint8Array(1000));
    // A publish now keeps it (it could be an upload about to publish) …
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, tableFor(m, 0, 1))).status).toBe(201);
    expect((await env.BUCKET.list({ prefix: `uploads/${runId}/` })).objects.map((o) => o.key)).toEqual([leftover]);
    // … one 16 minutes later deletes it (the edge's clock moved on; R2 keeps the time it was written).
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 16 * 60 * 1000);
      const token = await tokenFor("worker", [runId]);
      expect((await upload(`/v1/runs/${runId}/tables/1`, token, tableFor(m, 1, 1))).status).toBe(201);
    } finally {
      vi.useRealTimers();
    }
    expect((await env.BUCKET.list({ prefix: `uploads/${runId}/` })).objects).toEqual([]);
  });
});
