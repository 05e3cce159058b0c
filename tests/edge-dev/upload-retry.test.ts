// The run uploader (edge/scripts/run-uploader.ts, used by edge/scripts/upload-run.ts) against a
// real `wrangler dev` behind a fault-injecting proxy (issue 16, item 10): the first attempt of
// every upload gets wrangler dev's 503 "worker restarted mid-request", one more has its
// connection dropped; the uploader retries with backoff, everything is published exactly once,
// and a second run of it changes nothing.
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadRun } from "../../edge/scripts/run-uploader.ts";
import { startWranglerDev, type WranglerDev } from "../../edge/scripts/wrangler-dev.ts";
import { imageFor, manifestFor, newRunId, tableFor, tokenFor } from "../edge/fixtures.ts";

let dev: WranglerDev;
let proxy: Server;
let proxyBase: string;
const dirs: string[] = [];
const seen = new Map<string, number>();
const injected = { status503: 0, dropped: 0 };

beforeAll(async () => {
  const persist = mkdtempSync(join(tmpdir(), "edge-dev-"));
  dirs.push(persist);
  dev = await startWranglerDev(persist);
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const key = `${req.method} ${req.url}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (req.method === "PUT" && n === 1) {
      injected.status503++;
      res.writeHead(503, { "content-type": "text/plain", "retry-after": "0" });
      return res.end("Your worker restarted mid-request. Please try sending the request again.");
    }
    if (req.method === "PUT" && req.url?.includes("/tables/") && n === 2) {
      injected.dropped++;
      return req.socket.destroy();
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && k !== "host" && k !== "connection"),
    ) as Record<string, string>;
    const r = await fetch(dev.base + req.url, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/octet-stream" });
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyBase = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await dev?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("run uploader: retries with backoff", () => {
  it("publishes a run folder through 503s and a dropped connection; a second upload changes nothing", async () => {
    const runId = newRunId("upl");
    const m = manifestFor(runId, { classes: 3, ipc: 2, epochs: 3, k: 2, sourceSize: 8 });
    const folder = mkdtempSync(join(tmpdir(), "run-folder-"));
    dirs.push(folder);
    writeFileSync(join(folder, "manifest.json"), JSON.stringify(m));
    writeFileSync(join(folder, "labels.dlt"), tableFor(m));
    mkdirSync(join(folder, "images"));
    for (let i = 0; i < m.images; i++)
      writeFileSync(join(folder, "images", `${String(i).padStart(6, "0")}.png`), imageFor(m, i).png);

    const admin = await tokenFor("admin", "*");
    const worker = await tokenFor("worker", [runId]);
    const retried: string[] = [];
    const first = await uploadRun(folder, {
      url: proxyBase,
      worker,
      admin,
      concurrency: 3,
      backoffMs: 20,
      onRetry: (r) => retried.push(`${r.path} ${r.reason.slice(0, 3)}`),
    });
    expect(first).toMatchObject({ runId, created: true, images: { uploaded: m.images, unchanged: 0 } });
    expect(first.table).toMatchObject({ shard: 0, epochStart: 0, epochCount: 3 });
    expect(injected).toEqual({ status503: m.images + 1, dropped: 1 });
    expect(first.retries).toBe(m.images + 2);
    expect(retried.filter((r) => r.endsWith("503"))).toHaveLength(m.images + 1);
    for (const r of retried) expect(r).not.toContain(worker);

    const trainer = await tokenFor("trainer", [runId]);
    const status = (await (
      await fetch(`${dev.base}/v1/runs/${runId}/status`, { headers: { authorization: `Bearer ${trainer}` } })
    ).json()) as { labelsReady: boolean; pixelsReady: boolean };
    expect(status).toMatchObject({ labelsReady: true, pixelsReady: true });

    const again = await uploadRun(folder, { url: dev.base, worker, admin, backoffMs: 20 });
    expect(again).toMatchObject({ created: false, images: { uploaded: 0, unchanged: m.images }, retries: 0 });
    expect(again.table).toMatchObject({ unchanged: true });
  });

  it("a refusal that retrying cannot fix (403) stops at once with the edge's answer", async () => {
    const runId = newRunId("upf");
    const m = manifestFor(runId, { classes: 2, ipc: 1, epochs: 1, k: 1 });
    const folder = mkdtempSync(join(tmpdir(), "run-folder-"));
    dirs.push(folder);
    writeFileSync(join(folder, "manifest.json"), JSON.stringify(m));
    const notAdmin = await tokenFor("worker", [runId]);
    await expect(uploadRun(folder, { url: dev.base, worker: notAdmin, admin: notAdmin })).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining("FORBIDDEN_ROLE"),
    });
  });
});
