// Uploads are checked while they stream and published atomically: a shard cut off midway, with
// a wrong SHA-256, of another run or corrupt is refused and leaves nothing visible (not in
// status, not streamable, no staged object left behind); a shard still uploading is invisible.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encode } from "fast-png";
import { call, createRun, errorCode, imageFor, manifestFor, sha256Hex, tableFor, upload } from "./helpers.ts";

interface Status {
  labelsReady: boolean;
  tables: { shards: { shard: number }[] };
  images: { present: number };
}

async function nothingVisible(runId: string, trainer: string): Promise<void> {
  const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as Status;
  expect(status.tables.shards).toEqual([]);
  expect(status.labelsReady).toBe(false);
  const r = await call(`/v1/runs/${runId}/batches/0/0?size=2`, { token: trainer });
  expect(`${r.status} ${await errorCode(r)}`).toBe("404 TABLE_NOT_FOUND");
  expect((await env.BUCKET.list({ prefix: `uploads/${runId}/` })).objects).toEqual([]);
  expect((await env.BUCKET.list({ prefix: `runs/${runId}/tables/` })).objects).toEqual([]);
}

/** A body that sends `bytes` in chunks, stopping (until released) after `pauseAt` bytes, or erroring there. */
function controlledBody(bytes: Uint8Array, pauseAt: number, mode: "pause" | "error") {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= pauseAt && sent < bytes.length) {
        if (mode === "error") {
          controller.error(new Error("connection reset by peer"));
          return;
        }
        await released;
      }
      const end = Math.min(bytes.length, sent < pauseAt ? pauseAt : bytes.length, sent + 1024);
      controller.enqueue(bytes.slice(sent, end));
      sent = end;
      if (sent >= bytes.length) controller.close();
    },
  });
  return { stream, release, sent: () => sent };
}

describe("label-table upload", () => {
  it("wrong x-content-sha256 → 400 SHA256_MISMATCH, nothing visible", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 2, epochs: 2, k: 3 }, "sha");
    const table = tableFor(m);
    const r = await upload(`/v1/runs/${runId}/tables/0`, worker, table, "0".repeat(64));
    expect(`${r.status} ${await errorCode(r)}`).toBe("400 SHA256_MISMATCH");
    await nothingVisible(runId, trainer);
  });

  it("body stream errors midway → refused, nothing visible, nothing staged", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 20, epochs: 3, k: 3 }, "cut");
    const table = tableFor(m);
    const body = controlledBody(table, Math.floor(table.length / 2), "error");
    const outcome = await call(`/v1/runs/${runId}/tables/0`, {
      token: worker,
      method: "PUT",
      body: body.stream,
      headers: { "x-content-sha256": await sha256Hex(table), "content-length": String(table.length) },
    }).then(
      async (r) => `${r.status} ${await errorCode(r)}`,
      (e: Error) => e.message,
    );
    // (workerd also reports the simulated reset as an uncaught error of the test's stream.)
    expect(outcome).toBe("400 UPLOAD_ABORTED");
    expect(body.sent()).toBeLessThan(table.length);
    await nothingVisible(runId, trainer);
    // The same shard then uploads fine.
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, table)).status).toBe(201);
  });

  it("body shorter than Content-Length → refused, nothing visible", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 4, epochs: 2, k: 3 }, "short");
    const table = tableFor(m);
    const half = table.slice(0, table.length >> 1);
    const outcome = await call(`/v1/runs/${runId}/tables/0`, {
      token: worker,
      method: "PUT",
      body: new ReadableStream({
        start(c) {
          c.enqueue(half);
          c.close();
        },
      }),
      headers: { "x-content-sha256": await sha256Hex(table), "content-length": String(table.length) },
    }).then(
      async (r) => `${r.status} ${await errorCode(r)}`,
      (e: Error) => e.message,
    );
    expect(outcome).toBe("400 UPLOAD_ABORTED");
    await nothingVisible(runId, trainer);
  });

  it("a shard still uploading is not listed nor streamed; it appears when complete", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 20, epochs: 2, k: 3 }, "slow");
    const table = tableFor(m);
    const body = controlledBody(table, Math.floor(table.length * 0.6), "pause");
    const pending = call(`/v1/runs/${runId}/tables/0`, {
      token: worker,
      method: "PUT",
      body: body.stream,
      headers: { "x-content-sha256": await sha256Hex(table), "content-length": String(table.length) },
    });
    while (body.sent() < Math.floor(table.length * 0.6)) await new Promise((r) => setTimeout(r, 5));
    await nothingVisible(runId, trainer);
    body.release();
    expect((await pending).status).toBe(201);
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as Status;
    expect(status.tables.shards.map((s) => s.shard)).toEqual([0]);
    expect((await call(`/v1/runs/${runId}/batches/1/0?size=4`, { token: trainer })).status).toBe(200);
    expect((await env.BUCKET.list({ prefix: `uploads/${runId}/` })).objects).toEqual([]);
  });

  it("a table of another run → 422 TABLE_MISMATCH naming the fields", async () => {
    const { runId, worker, trainer } = await createRun({ classes: 6, ipc: 2, epochs: 2, k: 3 }, "mis");
    const other = tableFor(manifestFor("someone-else", { classes: 6, ipc: 2, epochs: 2, k: 4 }));
    const r = await upload(`/v1/runs/${runId}/tables/0`, worker, other);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect([r.status, body.error.code]).toEqual([422, "TABLE_MISMATCH"]);
    expect(body.error.message).toMatch(/run_id .*; k is 4, the manifest says 3/);
    await nothingVisible(runId, trainer);
  });

  it("corrupt records (valid sha of corrupt bytes) → 422 TABLE_INVALID (epoch checksum); truncated header → 422", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 2, epochs: 2, k: 3 }, "bad");
    const table = tableFor(m);
    const corrupt = table.slice();
    corrupt[corrupt.length - 3] ^= 0x40;
    const r = await upload(`/v1/runs/${runId}/tables/0`, worker, corrupt);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect([r.status, body.error.code]).toEqual([422, "TABLE_INVALID"]);
    // The flipped bit breaks a record before its epoch's CRC is complete: either check may name it.
    expect(body.error.message).toMatch(/EPOCH_CHECKSUM|BAD_RECORD/);
    const junk = new TextEncoder().encode("this is not a label table at all, not even close to one!!!!!!!!!!");
    const r2 = await upload(`/v1/runs/${runId}/tables/0`, worker, junk);
    expect(`${r2.status} ${await errorCode(r2)}`).toBe("422 TABLE_INVALID");
    await nothingVisible(runId, trainer);
  });

  it("shards: overlapping epochs → 409 SHARD_OVERLAP; same bytes again → 200 unchanged; other bytes → 409 SHARD_EXISTS", async () => {
    const { runId, m, worker, trainer } = await createRun({ classes: 6, ipc: 2, epochs: 4, k: 3 }, "ovl");
    expect((await upload(`/v1/runs/${runId}/tables/0`, worker, tableFor(m, 0, 2))).status).toBe(201);
    const r = await upload(`/v1/runs/${runId}/tables/1`, worker, tableFor(m, 1, 2));
    expect(`${r.status} ${await errorCode(r)}`).toBe("409 SHARD_OVERLAP");
    const again = await upload(`/v1/runs/${runId}/tables/0`, worker, tableFor(m, 0, 2));
    expect([again.status, ((await again.json()) as { unchanged?: boolean }).unchanged]).toEqual([200, true]);
    const other = await upload(`/v1/runs/${runId}/tables/0`, worker, tableFor(m, 2, 2));
    expect(`${other.status} ${await errorCode(other)}`).toBe("409 SHARD_EXISTS");
    expect((await upload(`/v1/runs/${runId}/tables/1`, worker, tableFor(m, 2, 2))).status).toBe(201);
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as Status;
    expect([status.labelsReady, status.tables.shards.length]).toEqual([true, 2]);
  });
});

describe("image upload", () => {
  it("checks the PNG against the run and its SHA-256; stores only good images", async () => {
    const { runId, m, worker, trainer } = await createRun(
      { classes: 2, ipc: 2, epochs: 1, k: 1, channels: 3, sourceSize: 6 },
      "img",
    );
    const good = imageFor(m, 1).png;
    const got = async (r: Response) => `${r.status} ${await errorCode(r)}`;
    const wrongSize = encode({ width: 5, height: 6, data: new Uint8Array(90), channels: 3, depth: 8 });
    const gray = encode({ width: 6, height: 6, data: new Uint8Array(36), channels: 1, depth: 8 });
    expect(await got(await upload(`/v1/runs/${runId}/images/0`, worker, wrongSize))).toBe("422 IMAGE_INVALID");
    expect(await got(await upload(`/v1/runs/${runId}/images/0`, worker, gray))).toBe("422 IMAGE_INVALID");
    expect(await got(await upload(`/v1/runs/${runId}/images/0`, worker, new TextEncoder().encode("not a png")))).toBe(
      "422 IMAGE_INVALID",
    );
    expect(await got(await upload(`/v1/runs/${runId}/images/0`, worker, good, "f".repeat(64)))).toBe(
      "400 SHA256_MISMATCH",
    );
    expect((await upload(`/v1/runs/${runId}/images/1`, worker, good)).status).toBe(201);
    expect(await got(await upload(`/v1/runs/${runId}/images/1`, worker, imageFor(m, 0).png))).toBe("409 IMAGE_EXISTS");
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
      images: { present: number; firstMissing: number[] };
    };
    expect(status.images).toMatchObject({ present: 1, firstMissing: [0, 2, 3] });
  });
});
