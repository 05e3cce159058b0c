// Inputs an outsider controls (issue 16, items 3, 6, 9, 10): PNG headers are checked before any
// pixel is inflated and the image data may not inflate past what its pixels need (decompression
// bombs); an image body shorter than its Content-Length is UPLOAD_ABORTED; manifests are bounded
// (images, epochs, sizes) and JSON bodies are capped while they arrive, with or without
// Content-Length; refusal messages say what applies to the route.
import { env } from "cloudflare:test";
import { encode } from "fast-png";
import { app } from "../../edge/src/app.ts";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../shared/checksum.ts";
import { MANIFEST_LIMITS } from "../../shared/manifest.ts";
import { uniform } from "../../shared/random.ts";
import { call, createRun, errorCode, manifestFor, newRunId, sha256Hex, tokenFor, upload } from "./helpers.ts";

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A PNG with this IHDR and this (already deflated) image data. */
function png(width: number, height: number, depth: number, colourType: number, idat: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = colourType;
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

async function refusal(r: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await r.json()) as { error: { code: string; message: string } };
  return { status: r.status, code: body.error.code, message: body.error.message };
}

describe("PNG decompression bombs", () => {
  it("a tiny PNG declaring 60000² RGBA16 → 422 naming the declared size (no allocation attempted)", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1, sourceSize: 8 }, "bmb");
    const bomb = png(60000, 60000, 16, 6, await deflate(new Uint8Array(4096)));
    expect(bomb.length).toBeLessThan(600);
    const r = await refusal(await upload(`/v1/runs/${runId}/images/0`, worker, bomb));
    expect(r).toMatchObject({ status: 422, code: "IMAGE_INVALID" });
    expect(r.message).toMatch(/declares 60000×60000 pixels; the run's images are 8×8/);
  });

  it("a 4000² PNG of 16 KB for an 8×8 run → refused from its header", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1, sourceSize: 8 }, "bm2");
    const bomb = png(4000, 4000, 8, 0, await deflate(new Uint8Array(4000 * 4001)));
    const r = await refusal(await upload(`/v1/runs/${runId}/images/0`, worker, bomb));
    expect(r).toMatchObject({ status: 422, code: "IMAGE_INVALID" });
    expect(r.message).toContain("declares 4000×4000 pixels");
  });

  it("an 8×8 PNG whose data inflates to 8 MB → 422 (would otherwise be stored: the decoder ignores the excess)", async () => {
    const { runId, worker, trainer } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1, sourceSize: 8 }, "bm3");
    const bomb = png(8, 8, 8, 0, await deflate(new Uint8Array(8 * 1024 * 1024)));
    const r = await refusal(await upload(`/v1/runs/${runId}/images/0`, worker, bomb));
    expect(r).toMatchObject({ status: 422, code: "IMAGE_INVALID" });
    expect(r.message).toContain("inflates to more than the 72 bytes");
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
      images: { present: number };
    };
    expect(status.images.present).toBe(0);
  });

  it("header checks name the problem: palette, alpha, 4-bit depth; exact-size data is accepted", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 2, epochs: 1, k: 1, sourceSize: 6 }, "hdr");
    const cases: [number, number, RegExp][] = [
      [8, 3, /palette at 8 bits/],
      [8, 4, /gray \+ alpha at 8 bits/],
      [4, 0, /gray at 4 bits/],
    ];
    for (const [depth, colourType, message] of cases) {
      const r = await refusal(
        await upload(
          `/v1/runs/${runId}/images/0`,
          worker,
          png(6, 6, depth, colourType, await deflate(new Uint8Array(64))),
        ),
      );
      expect(r.status).toBe(422);
      expect(r.message).toMatch(message);
    }
    // Hand-made (filter 0 rows) gray 8-bit image of exactly 6 × (1 + 6) bytes: stored.
    const raw = new Uint8Array(6 * 7);
    for (let i = 0; i < raw.length; i++) raw[i] = i % 7 === 0 ? 0 : (i * 37) & 255;
    expect((await upload(`/v1/runs/${runId}/images/1`, worker, png(6, 6, 8, 0, await deflate(raw)))).status).toBe(201);
  });

  it("randomised: PNGs written by fast-png (8/16 bits, gray/RGB, random pixels) are accepted", async () => {
    for (let t = 0; t < 4; t++) {
      const channels = t % 2 ? 3 : 1;
      const depth = t < 2 ? 8 : 16;
      const S = 3 + Math.floor(uniform(31, t) * 20);
      const { runId, worker } = await createRun(
        { classes: 1, ipc: 1, epochs: 1, k: 1, sourceSize: S, channels },
        "rnd",
      );
      const n = S * S * channels;
      const data = depth === 8 ? new Uint8Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.floor(uniform(32, t, i) * (depth === 8 ? 256 : 65536));
      const r = await upload(
        `/v1/runs/${runId}/images/0`,
        worker,
        encode({ width: S, height: S, data, channels, depth }),
      );
      expect(r.status, `S=${S} C=${channels} depth=${depth}: ${await r.clone().text()}`).toBe(201);
    }
  });
});

describe("short and oversized bodies", () => {
  it("an image body shorter than its Content-Length → 400 UPLOAD_ABORTED, nothing stored", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1, sourceSize: 8 }, "sht");
    const good = encode({ width: 8, height: 8, data: new Uint8Array(64), channels: 1, depth: 8 });
    const outcome = await call(`/v1/runs/${runId}/images/0`, {
      token: worker,
      method: "PUT",
      body: new ReadableStream({
        start(c) {
          c.enqueue(good.slice(0, 20));
          c.close();
        },
      }),
      headers: { "x-content-sha256": await sha256Hex(good), "content-length": String(good.length) },
    }).then(
      async (r) => `${r.status} ${await errorCode(r)}`,
      (e: Error) => e.message,
    );
    expect(outcome).toBe("400 UPLOAD_ABORTED");
  });

  it("an image body whose stream fails midway (connection reset) → 400 UPLOAD_ABORTED, not 500", async () => {
    const { runId, worker, trainer } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1, sourceSize: 8 }, "rst");
    const good = encode({ width: 8, height: 8, data: new Uint8Array(64), channels: 1, depth: 8 });
    // Straight into the app (no HTTP layer between): the body read itself fails, as it does when
    // a client disconnects mid-body on a real socket.
    let pulls = 0;
    const body = new ReadableStream({
      pull(c) {
        if (pulls++ === 0) c.enqueue(good.slice(0, 20));
        else c.error(new Error("connection reset by peer"));
      },
    });
    const request = new Request(`http://edge.test/v1/runs/${runId}/images/0`, {
      method: "PUT",
      body,
      headers: {
        authorization: `Bearer ${worker}`,
        "x-content-sha256": await sha256Hex(good),
        "content-length": String(good.length),
      },
    });
    const r = await app.fetch(request, env);
    const outcome = `${r.status} ${await errorCode(r)}`;
    expect(outcome).toBe("400 UPLOAD_ABORTED");
    const status = (await (await call(`/v1/runs/${runId}/status`, { token: trainer })).json()) as {
      images: { present: number };
    };
    expect(status.images.present).toBe(0);
  });

  it("an image larger than the image limit → 413 with an image's fix (no word of shards)", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1 }, "big");
    const r = await refusal(await upload(`/v1/runs/${runId}/images/0`, worker, new Uint8Array(8 * 1024 * 1024 + 1)));
    expect(r).toMatchObject({ status: 413, code: "TOO_LARGE" });
    expect(r.message).not.toContain("shard");
  });

  it("a 7-byte table → 422 TABLE_INVALID saying it is shorter than the header (not 'ended after 7 of 7')", async () => {
    const { runId, worker } = await createRun({ classes: 2, ipc: 1, epochs: 1, k: 1 }, "tny");
    const r = await refusal(await upload(`/v1/runs/${runId}/tables/0`, worker, new TextEncoder().encode("DLT1abc")));
    expect(r).toMatchObject({ status: 422, code: "TABLE_INVALID" });
    expect(r.message).toContain("shorter than the 64-byte label-table header");
  });
});

describe("manifest bounds and JSON bodies", () => {
  it("images, epochs and sizes past the stated limits → 400 MANIFEST_INVALID naming the field", async () => {
    const admin = await tokenFor("admin", "*");
    const base = () => manifestFor(newRunId("lim"), { classes: 10, ipc: 1, epochs: 1, k: 1 });
    const cases: [string, (m: ReturnType<typeof base>) => void][] = [
      ["images", (m) => ((m.dataset.classes = 65535), (m.ipc = 20000), (m.images = 65535 * 20000))],
      ["relabel.epochs", (m) => (m.relabel.epochs = 2e9)],
      ["relabel.schedule.sourceSize", (m) => (m.relabel.schedule.sourceSize = 100_000)],
      ["dataset.channels", (m) => (m.dataset.channels = 1000)],
    ];
    for (const [field, mutate] of cases) {
      const m = base();
      mutate(m);
      const r = await refusal(await call("/v1/runs", { token: admin, method: "POST", json: m }));
      expect(r, field).toMatchObject({ status: 400, code: "MANIFEST_INVALID" });
      expect(r.message).toContain(`${field}:`);
    }
    const atLimit = base();
    atLimit.relabel.epochs = MANIFEST_LIMITS.epochs;
    expect((await call("/v1/runs", { token: admin, method: "POST", json: atLimit })).status).toBe(201);
  });

  it("a JSON body without Content-Length is cut off once 1 MiB has arrived, not read whole first", async () => {
    const admin = await tokenFor("admin", "*");
    // 16 MiB offered on demand (the stream is pulled): the edge must stop pulling soon after 1 MiB.
    let sent = 0;
    const offered = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 16 * 1024 * 1024) return c.close();
        c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        sent += 64 * 1024;
      },
    });
    const r = await call("/v1/runs", {
      token: admin,
      method: "POST",
      body: offered,
      headers: { "content-type": "application/json" },
    });
    expect(`${r.status} ${await errorCode(r)}`).toBe("413 TOO_LARGE");
    expect(sent).toBeLessThan(4 * 1024 * 1024);
  });
});
