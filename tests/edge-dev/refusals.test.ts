// The edge on a real `wrangler dev` over raw sockets (issue 16, items 4 and 10): a refusal decided
// before the body is read (413, 401, 409) reaches a client that is still sending — or that has
// announced gigabytes — at once, and the server still serves afterwards; an image body cut short
// of its Content-Length (the client half-closes) is never a 500 and stores nothing.
import { connect, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../../edge/scripts/wrangler-dev.ts";
import { imageFor, manifestFor, newRunId, sha256Hex, tableFor, tokenFor } from "../edge/fixtures.ts";

let dev: WranglerDev;
let persist: string;

beforeAll(async () => {
  persist = mkdtempSync(join(tmpdir(), "edge-dev-"));
  dev = await startWranglerDev(persist);
});

afterAll(async () => {
  await dev?.stop();
  if (persist) rmSync(persist, { recursive: true, force: true });
});

interface RawReply {
  /** The status line and headers, or "" when nothing came back in time. */
  head: string;
  body: string;
  ms: number;
}

/**
 * Sends `head` (request line + headers) and `bodyBytes`, then waits up to `waitMs` for a reply;
 * with `halfClose` the client ends its side after the body (a body cut short).
 */
function raw(head: string, bodyBytes: Uint8Array, o: { waitMs: number; halfClose?: boolean }): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket: Socket = connect(dev.port, "127.0.0.1");
    let got = "";
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const [h, ...rest] = got.split("\r\n\r\n");
      resolve({ head: h ?? "", body: rest.join("\r\n\r\n"), ms: performance.now() - t0 });
    };
    const timer = setTimeout(finish, o.waitMs);
    socket.on("data", (d) => {
      got += d.toString("latin1");
      const [h, ...rest] = got.split("\r\n\r\n");
      const len = /content-length: *([0-9]+)/i.exec(h);
      if (rest.length && len && Buffer.byteLength(rest.join("\r\n\r\n"), "latin1") >= Number(len[1])) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.write(head.replaceAll("\n", "\r\n") + "\r\n\r\n");
    socket.write(bodyBytes);
    if (o.halfClose) socket.end();
  });
}

async function api(path: string, token: string, init: RequestInit = {}): Promise<Response> {
  return fetch(dev.base + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
}

describe("wrangler dev: refusals before the body", () => {
  let runId: string;
  let worker: string;
  let table: Uint8Array;

  beforeAll(async () => {
    runId = newRunId("raw");
    const m = manifestFor(runId, { classes: 4, ipc: 2, epochs: 2, k: 2 });
    const admin = await tokenFor("admin", "*");
    const created = await api("/v1/runs", admin, {
      method: "POST",
      body: JSON.stringify(m),
      headers: { "content-type": "application/json" },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    worker = await tokenFor("worker", [runId]);
    table = tableFor(m);
    const put = await api(`/v1/runs/${runId}/tables/0`, worker, {
      method: "PUT",
      body: table as Uint8Array<ArrayBuffer>,
      headers: { "x-content-sha256": await sha256Hex(table) },
    });
    expect(put.status, await put.clone().text()).toBe(201);
  });

  const sha = "ab".repeat(32);
  const cases: [string, () => string, string][] = [
    [
      "413: an image announcing 6 GB",
      () =>
        `PUT /v1/runs/${runId}/images/0 HTTP/1.1\nhost: x\nauthorization: Bearer ${worker}\nx-content-sha256: ${sha}\ncontent-length: 6000000000`,
      "413",
    ],
    [
      "401: no token, a 6 GB table",
      () => `PUT /v1/runs/${runId}/tables/1 HTTP/1.1\nhost: x\nx-content-sha256: ${sha}\ncontent-length: 6000000000`,
      "401",
    ],
    [
      "409: a published shard, other bytes still arriving",
      () =>
        `PUT /v1/runs/${runId}/tables/0 HTTP/1.1\nhost: x\nauthorization: Bearer ${worker}\nx-content-sha256: ${sha}\ncontent-length: 4000000000`,
      "409",
    ],
  ];
  for (const [name, head, status] of cases) {
    it(`${name} → answered while the body is still owed`, async () => {
      const reply = await raw(head(), new Uint8Array(1).fill(0x78), { waitMs: 10_000 });
      expect(reply.head.split("\r\n")[0], `no reply within 10 s (server output:\n${dev.output()})`).toBe(
        `HTTP/1.1 ${status} ${{ 401: "Unauthorized", 409: "Conflict", 413: "Payload Too Large" }[status]}`,
      );
      expect(reply.ms).toBeLessThan(10_000);
      expect((await fetch(`${dev.base}/`)).status).toBe(200); // still serving
    });
  }

  it("an answer given before a small body was read (200 unchanged) keeps the keep-alive connection usable", async () => {
    const replies = await new Promise<string[]>((resolve) => {
      const socket = connect(dev.port, "127.0.0.1");
      let got = "";
      const timer = setTimeout(() => (socket.destroy(), resolve(got.split(/(?=HTTP\/1\.1 )/))), 10_000);
      socket.on("data", (d) => {
        got += d.toString("latin1");
        const parts = got.split(/(?=HTTP\/1\.1 )/);
        if (parts.length === 2 && /\r\n\r\n\{"service"/.test(parts[1])) {
          clearTimeout(timer);
          socket.destroy();
          resolve(parts);
        }
      });
      void sha256Hex(table).then((sha) => {
        socket.write(
          `PUT /v1/runs/${runId}/tables/0 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${worker}\r\nx-content-sha256: ${sha}\r\ncontent-length: ${table.length}\r\n\r\n`,
        );
        socket.write(table);
        socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
      });
    });
    expect(replies.map((r) => r.split("\r\n")[0])).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(replies[0]).toContain('"unchanged":true');
  });

  it("an image body cut short by the client (half-close): never a 500 of ours, nothing stored, still serving", async () => {
    const m = manifestFor(runId, { classes: 4, ipc: 2, epochs: 2, k: 2 });
    const png = imageFor(m, 1).png;
    const reply = await raw(
      `PUT /v1/runs/${runId}/images/1 HTTP/1.1\nhost: x\nauthorization: Bearer ${worker}\nx-content-sha256: ${await sha256Hex(png)}\ncontent-length: ${png.length}`,
      png.slice(0, png.length >> 1),
      { waitMs: 10_000, halfClose: true },
    );
    // The edge answers 400 UPLOAD_ABORTED; wrangler dev's own proxy may answer first with 503
    // "worker restarted mid-request" (upstream behaviour; clients retry 503).
    const line = reply.head.split("\r\n")[0];
    if (line === "HTTP/1.1 400 Bad Request") expect(JSON.parse(reply.body).error.code).toBe("UPLOAD_ABORTED");
    else expect(`${line}\n${reply.body}`).toMatch(/^HTTP\/1.1 503 .*\n.*restarted mid-request/s);
    const status = (await (await api(`/v1/runs/${runId}/status`, worker)).json()) as { images: { present: number } };
    expect(status.images.present).toBe(0);
    expect((await fetch(`${dev.base}/`)).status).toBe(200);
  });
});
