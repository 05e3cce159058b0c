// Edge batch-stream benchmark (issue 4, item 8): `wrangler dev` (local R2/KV) on loopback, a run
// of 1000 classes × IPC 50 = 50 000 images, k = 10 (u8), a few epochs; then autocannon against
// GET /v1/runs/:run/batches/:epoch/:batch?size=256, without and with pixels. Prints a table and
// writes bench/results/edge.json. Standalone: `npx tsx bench/edge.bench.ts` (or `npm run bench -- edge`).
// Targets: ≥ 50k crop-label lookups/s per process, p99 < 20 ms per 256-crop batch without pixels,
// table ≥ 50× smaller than fp32 labels.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "fast-png";
import { batchOrder, defaultCropSchedule } from "../shared/crop-schedule/index.ts";
import { crc32 } from "../shared/checksum.ts";
import { encodeHeader, HEADER_BYTES, QUANT_U8, recordSize } from "../shared/label-table/index.ts";
import { hash32, uniform } from "../shared/random.ts";
import type { RunManifest } from "../shared/manifest.ts";
import { issueToken } from "../edge/src/auth/tokens.ts";
import { DEV_SIGNING_KEY } from "../edge/scripts/dev-key.ts";
import { startWranglerDev } from "../edge/scripts/wrangler-dev.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  throughput: { average: number };
  errors: number;
  non2xx: number;
  duration: number;
}
type Cannon = (o: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: { method: string; path: string }[];
}) => Promise<CannonResult>;
const autocannon = require("autocannon") as Cannon;

const CLASSES = 1000,
  IPC = 50,
  IMAGES = CLASSES * IPC,
  EPOCHS = 4,
  K = 10,
  BATCH = 256;
const SIDE = 32,
  CHANNELS = 3; // ImageNet downsampled to 32 × 32: pixels at the edge stay a few MB per batch
const PIXEL_BATCHES = 20; // batches of epoch 0 whose images are uploaded for the pixels runs
let BASE = ""; // wrangler dev's address, once started
const RUN = "bench-in1k";
const quick = process.argv.includes("--quick"); // 5 s runs, for trying changes
const noPixels = process.argv.includes("--no-pixels"); // labels only (skips the image uploads)
const SECONDS = quick ? 5 : 15;

function manifest(): RunManifest {
  return {
    version: 1,
    runId: RUN,
    createdAt: new Date().toISOString(),
    dataset: { name: "imagenet-1k-32 (synthetic)", classes: CLASSES, channels: CHANNELS, height: SIDE, width: SIDE },
    ipc: IPC,
    images: IMAGES,
    resolution: SIDE,
    relabel: {
      epochs: EPOCHS,
      cropsPerImage: 1,
      k: K,
      quant: "u8",
      temperature: 1,
      schedule: defaultCropSchedule({ seed: 11, sourceSize: SIDE }),
    },
    seeds: { run: 11 },
    teacher: { id: "bench", arch: "none" },
  };
}

/** The table as the SPEC lays it out: teacher-like top-10 per crop (distinct ids, descending u8 probs). */
function buildTable(): Uint8Array {
  const rs = recordSize(K, QUANT_U8, false);
  const epochBlocks: Uint8Array[] = [];
  for (let e = 0; e < EPOCHS; e++) {
    const block = new Uint8Array(IMAGES * rs);
    const v = new DataView(block.buffer);
    for (let r = 0; r < IMAGES; r++) {
      const o = r * rs;
      const ids = new Set<number>();
      for (let t = 0; ids.size < K; t++) ids.add(hash32(3, e, r, t) % CLASSES);
      let left = 255;
      [...ids].forEach((id, j) => {
        v.setUint16(o + 2 * j, id, true);
        const q = j === K - 1 ? Math.min(left, 1) : Math.max(1, Math.floor(left * (0.3 + 0.4 * uniform(4, e, r, j))));
        const prev = j === 0 ? 255 : block[o + 2 * K + j - 1];
        block[o + 2 * K + j] = Math.min(q, prev, left);
        left -= block[o + 2 * K + j];
      });
    }
    epochBlocks.push(block);
  }
  const crcs = new Uint8Array(4 * EPOCHS);
  epochBlocks.forEach((b, i) => new DataView(crcs.buffer).setUint32(4 * i, crc32(b), true));
  const header = encodeHeader(
    {
      flags: 0,
      classes: CLASSES,
      images: IMAGES,
      epochs: EPOCHS,
      epochStart: 0,
      epochCount: EPOCHS,
      cropsPerImage: 1,
      k: K,
      quant: QUANT_U8,
      seed: 11,
      runId: RUN,
    },
    crc32(crcs),
  );
  const out = new Uint8Array(HEADER_BYTES + crcs.length + EPOCHS * IMAGES * rs);
  out.set(header, 0);
  out.set(crcs, HEADER_BYTES);
  epochBlocks.forEach((b, i) => out.set(b, HEADER_BYTES + crcs.length + i * b.length));
  return out;
}

function imagePng(i: number): Uint8Array {
  const data = new Uint8Array(SIDE * SIDE * CHANNELS);
  const base = [hash32(8, i, 0) & 255, hash32(8, i, 1) & 255, hash32(8, i, 2) & 255];
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++)
      for (let c = 0; c < CHANNELS; c++)
        data[(y * SIDE + x) * CHANNELS + c] = (base[c] + 4 * x + 3 * y * (c + 1)) & 255;
  return encode({ width: SIDE, height: SIDE, data, channels: CHANNELS, depth: 8 });
}

async function put(path: string, token: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  const r = await fetch(BASE + path, {
    method: "PUT",
    body: bytes,
    headers: { authorization: `Bearer ${token}`, "x-content-sha256": createHash("sha256").update(bytes).digest("hex") },
  });
  if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
}

/** Sequential requests on one keep-alive connection, timed precisely (autocannon rounds to ms). */
async function sequentialLatency(
  paths: string[],
  token: string,
  n: number,
): Promise<{ p50: number; p99: number; mean: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(BASE + paths[i % paths.length], { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`GET ${paths[i % paths.length]}: ${r.status}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: q(0.5), p99: q(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length };
}

async function main(): Promise<void> {
  const persist = mkdtempSync(join(tmpdir(), "edge-bench-"));
  const t0 = performance.now();
  const dev = await startWranglerDev(persist);
  BASE = dev.base;
  const cleanup = () => {
    void dev.stop();
    rmSync(persist, { recursive: true, force: true });
  };
  process.on("SIGINT", () => (cleanup(), process.exit(130)));
  try {
    console.log(`wrangler dev ready on ${BASE} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const admin = (await issueToken(DEV_SIGNING_KEY, { role: "admin", runs: "*", ttlSeconds: 3600 })).token;
    const worker = (await issueToken(DEV_SIGNING_KEY, { role: "worker", runs: [RUN], ttlSeconds: 3600 })).token;
    const trainer = (await issueToken(DEV_SIGNING_KEY, { role: "trainer", runs: [RUN], ttlSeconds: 3600 })).token;
    const m = manifest();
    const created = await fetch(`${BASE}/v1/runs`, {
      method: "POST",
      body: JSON.stringify(m),
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    });
    if (created.status !== 201) throw new Error(`create run: ${created.status} ${await created.text()}`);

    let t = performance.now();
    const table = buildTable();
    const buildS = (performance.now() - t) / 1000;
    t = performance.now();
    await put(`/v1/runs/${RUN}/tables/0`, worker, table as Uint8Array<ArrayBuffer>);
    const uploadS = (performance.now() - t) / 1000;
    console.log(
      `table: ${(table.length / 1e6).toFixed(2)} MB (${EPOCHS} epochs × ${IMAGES} crops), built in ${buildS.toFixed(1)} s, uploaded + checked + published in ${uploadS.toFixed(2)} s`,
    );

    const order = batchOrder(m.relabel.schedule.seed, 0, IMAGES);
    const needed = noPixels ? [] : Array.from(order.subarray(0, PIXEL_BATCHES * BATCH));
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < needed.length) {
          const i = needed[next++];
          await put(`/v1/runs/${RUN}/images/${i}`, worker, imagePng(i) as Uint8Array<ArrayBuffer>);
        }
      }),
    );
    console.log(
      `images: ${needed.length} PNGs (${SIDE}×${SIDE}×${CHANNELS}) for batches 0..${PIXEL_BATCHES - 1} of epoch 0, uploaded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    const perEpoch = Math.ceil(IMAGES / BATCH);
    const labelPaths = Array.from(
      { length: EPOCHS * perEpoch },
      (_, i) => `/v1/runs/${RUN}/batches/${Math.floor(i / perEpoch)}/${i % perEpoch}?size=${BATCH}`,
    );
    const pixelPaths = Array.from(
      { length: PIXEL_BATCHES },
      (_, b) => `/v1/runs/${RUN}/batches/0/${b}?size=${BATCH}&pixels=1`,
    );
    const headers = { authorization: `Bearer ${trainer}` };

    // Warm-up (first requests compile code, fill the batch-order cache).
    await sequentialLatency(labelPaths.slice(0, 8), trainer, 16);

    const runs: Record<string, unknown>[] = [];
    const cannon = async (name: string, paths: string[], connections: number, seconds: number) => {
      // Each connection walks the batch list from its own offset, as independent trainers would.
      const r = await autocannon({
        url: BASE,
        connections,
        duration: seconds,
        headers,
        requests: paths.map((path) => ({ method: "GET", path })),
      });
      const row = {
        name,
        connections,
        seconds,
        requestsPerSecond: r.requests.average,
        cropsPerSecond: r.requests.average * BATCH,
        latencyMs: { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.average, max: r.latency.max },
        bytesPerSecond: r.throughput.average,
        errors: r.errors,
        non2xx: r.non2xx,
        total: r.requests.total,
      };
      runs.push(row);
      console.log(
        `${name.padEnd(28)} c=${String(connections).padEnd(3)} ${r.requests.average.toFixed(1).padStart(8)} req/s ${(r.requests.average * BATCH).toFixed(0).padStart(8)} crops/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  ${(r.throughput.average / 1e6).toFixed(1)} MB/s  errors ${r.errors} non-2xx ${r.non2xx}`,
      );
    };
    await cannon("labels (batch 256)", labelPaths, 1, SECONDS);
    await cannon("labels (batch 256)", labelPaths, 8, SECONDS);
    const seqLabels = await sequentialLatency(labelPaths, trainer, quick ? 200 : 2000);
    console.log(
      `sequential, one connection (precise): labels p50 ${seqLabels.p50.toFixed(2)} ms p99 ${seqLabels.p99.toFixed(2)} ms`,
    );
    if (noPixels) {
      console.log("--no-pixels: labels only; bench/results/edge.json not written");
      return;
    }
    // Cold: the first pass reads and decodes every image of these batches from R2; after it
    // the 5120 images (15.7 MB of 8-bit samples) sit in the isolate's 48 MB image cache.
    const coldPixels = await sequentialLatency(pixelPaths, trainer, pixelPaths.length);
    console.log(
      `pixels, first pass (cold, one connection): p50 ${coldPixels.p50.toFixed(1)} ms p99 ${coldPixels.p99.toFixed(1)} ms`,
    );
    await cannon("labels + pixels, warm", pixelPaths, 1, SECONDS);
    await cannon("labels + pixels, warm", pixelPaths, 4, SECONDS);
    const seqPixels = await sequentialLatency(pixelPaths, trainer, quick ? 20 : 60);
    console.log(
      `sequential, one connection (precise): pixels (warm) p50 ${seqPixels.p50.toFixed(1)} ms p99 ${seqPixels.p99.toFixed(1)} ms`,
    );

    const sampleLabels = new Uint8Array(await (await fetch(BASE + labelPaths[0], { headers })).arrayBuffer()).length;
    const samplePixels = new Uint8Array(await (await fetch(BASE + pixelPaths[0], { headers })).arrayBuffer()).length;
    const record = recordSize(K, QUANT_U8, false);
    const storage = {
      classes: CLASSES,
      k: K,
      quant: "u8",
      tableBytesPerCrop: record,
      fp32BytesPerCrop: 4 * CLASSES,
      ratio: (4 * CLASSES) / record,
      tableBytes: table.length,
      fp32Bytes: EPOCHS * IMAGES * 4 * CLASSES,
      responseBytesPerCrop: sampleLabels / BATCH,
      responseBytesPerCropWithPixels: samplePixels / BATCH,
    };
    console.log(
      `storage: ${record} B per crop in the table vs ${4 * CLASSES} B fp32 (${storage.ratio.toFixed(0)}× smaller); ${EPOCHS} epochs: ${(table.length / 1e6).toFixed(1)} MB vs ${(storage.fp32Bytes / 1e9).toFixed(1)} GB; on the wire ${storage.responseBytesPerCrop.toFixed(1)} B per crop (${storage.responseBytesPerCropWithPixels.toFixed(0)} with pixels)`,
    );

    const wranglerVersion = JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version;
    const result = {
      bench: "edge",
      date: new Date().toISOString(),
      command: "npx tsx bench/edge.bench.ts",
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        loadAverageAtEnd: loadavg(),
        node: process.version,
        wrangler: wranglerVersion,
        note: "wrangler dev (local workerd, local R2/KV) and autocannon on the same machine, loopback",
      },
      run: {
        classes: CLASSES,
        ipc: IPC,
        images: IMAGES,
        epochs: EPOCHS,
        k: K,
        quant: "u8",
        batch: BATCH,
        imageSide: SIDE,
        channels: CHANNELS,
        pixelBatches: PIXEL_BATCHES,
      },
      autocannon: runs,
      sequential: { labels: seqLabels, pixelsCold: coldPixels, pixelsWarm: seqPixels },
      storage,
    };
    mkdirSync(join(root, "bench/results"), { recursive: true });
    writeFileSync(join(root, "bench/results/edge.json"), `${JSON.stringify(result, null, 2)}\n`);
    console.log("wrote bench/results/edge.json");
  } finally {
    cleanup();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
