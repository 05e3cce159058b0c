// Label-table statistics, WASM module vs TypeScript reference, in Node, one run each:
// a table of 10 M crops (1000 classes, ipc 50 → 50 000 images, 200 epochs, k = 10, u8).
// Timed: the whole inspection (header, CRCs, record checks, statistics) and the statistics
// over the record bytes alone (ranges, no CRC). Epoch orders (batchOrder) are computed once
// beforehand and passed to both, so the figures are those of the label work.
// Writes bench/results/wasm.json. Usage: npm run bench:wasm [-- --crops 1000000]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { gzipSync, brotliCompressSync } from "node:zlib";
import { crc32 } from "../shared/checksum.ts";
import { batchOrder } from "../shared/crop-schedule/index.ts";
import { HEADER_BYTES, QUANT_U8, encodeHeader, recordSize, recordsStart } from "../shared/label-table/index.ts";
import { buildWasm } from "../wasm-tools/build.ts";
import { LabelStatsModule } from "../wasm-tools/src/label-stats.ts";
import { loadLabelStats, WASM_PATH } from "../wasm-tools/node/load.ts";
import { referenceStats } from "../wasm-tools/src/reference.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const classes = 1000,
  ipc = 50,
  k = 10;
const images = classes * ipc;
const epochs = Math.max(1, Math.round(arg("crops", 10_000_000) / images));
const seed = 1234;

/** A valid table of teacher-like records (top-1 = target 70 % of the time), written directly for speed. */
function makeTable(orders: Uint32Array[]): Uint8Array {
  const rs = recordSize(k, QUANT_U8, false);
  const fields = {
    flags: 0,
    classes,
    images,
    epochs,
    epochStart: 0,
    epochCount: epochs,
    cropsPerImage: 1,
    k,
    quant: QUANT_U8,
    seed,
    runId: "bench",
  };
  const start = recordsStart({ epochCount: epochs });
  const out = new Uint8Array(start + epochs * images * rs);
  const view = new DataView(out.buffer);
  let x = 0x9e3779b9;
  const rnd = () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296;
  const used = new Int32Array(classes).fill(-1);
  for (let e = 0; e < epochs; e++) {
    const block = start + e * images * rs;
    for (let s = 0; s < images; s++) {
      const o = block + s * rs;
      const target = Math.floor(orders[e][s] / ipc);
      let left = 255;
      for (let j = 0; j < k; j++) {
        let id = j === 0 && rnd() < 0.7 ? target : Math.floor(rnd() * classes);
        while (used[id] === s + e * images) id = (id + 1) % classes;
        used[id] = s + e * images;
        view.setUint16(o + 2 * j, id, true);
        const prev = j === 0 ? 255 : out[o + 2 * k + j - 1];
        const q = Math.min(prev, Math.floor(rnd() * (j === 0 ? 230 : left * 0.6)));
        out[o + 2 * k + j] = q;
        left -= q;
      }
    }
    view.setUint32(HEADER_BYTES + 4 * e, crc32(out.subarray(block, block + images * rs)), true);
  }
  out.set(encodeHeader(fields, crc32(out.subarray(HEADER_BYTES, start))), 0);
  return out;
}

function time<T>(f: () => T): { value: T; seconds: number } {
  const t0 = process.hrtime.bigint();
  const value = f();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

await buildWasm(true);
const wasm = loadLabelStats();
const wasmBytes = readFileSync(WASM_PATH);

const tOrders = time(() => Array.from({ length: epochs }, (_, e) => batchOrder(seed, e, images)));
const orders = tOrders.value;
const order = (e: number) => orders[e];
const tGen = time(() => makeTable(orders));
const table = tGen.value;
const crops = images * epochs;
console.log(
  `table: ${crops} crops, ${classes} classes, k ${k}, u8, ${(table.length / 2 ** 20).toFixed(0)} MiB (generated in ${tGen.seconds.toFixed(1)} s; batch orders ${tOrders.seconds.toFixed(2)} s)`,
);

const opts = { order, bins: 20 };
const wFull = time(() => wasm.inspect(table, opts));
// as in a browser: epoch CRCs by the module itself (the Node loader uses node:zlib's crc32)
const ownCrc = LabelStatsModule.loadSync(wasmBytes);
const wOwn = time(() => ownCrc.inspect(table, opts));
const rFull = time(() => referenceStats(table, opts));
const equal = (a: typeof rFull.value, b: typeof rFull.value) =>
  JSON.stringify({ ...a, confusion: null }) === JSON.stringify({ ...b, confusion: null }) &&
  a.confusion!.every((v, i) => v === b.confusion![i]);
const same = equal(wFull.value, rFull.value) && equal(wOwn.value, rFull.value);
const start = recordsStart({ epochCount: epochs });
const wStats = time(() => {
  const r = wasm.ranges(table.subarray(0, HEADER_BYTES), opts);
  r.add(start, table.subarray(start));
  return r.finish();
});
const crcOnly = time(() => crc32(table.subarray(start)));

const rate = (s: number) => crops / s / 1e6;
const result = {
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`,
  table: { crops, classes, k, quant: "u8", images, epochs, bytes: table.length },
  wasm: {
    bytes: wasmBytes.length,
    gzip: gzipSync(wasmBytes, { level: 9 }).length,
    brotli: brotliCompressSync(wasmBytes).length,
    fullMcropsPerS: rate(wFull.seconds),
    statsMcropsPerS: rate(wStats.seconds),
    fullOwnCrcMcropsPerS: rate(wOwn.seconds),
    fullSeconds: wFull.seconds,
    statsSeconds: wStats.seconds,
    fullOwnCrcSeconds: wOwn.seconds,
  },
  reference: {
    fullMcropsPerS: rate(rFull.seconds),
    fullSeconds: rFull.seconds,
    sharedCrc32MBPerS: (table.length - start) / crcOnly.seconds / 1e6,
  },
  speedup: rFull.seconds / wFull.seconds,
  identical: same,
  targets: { mcropsPerS: 50, speedup: 3, gzipBytes: 100 * 1024 },
};
console.log(
  `wasm full inspect (header, CRCs by node:zlib, checks, stats): ${result.wasm.fullMcropsPerS.toFixed(1)} M crops/s (${wFull.seconds.toFixed(3)} s)`,
);
console.log(
  `wasm full inspect, CRCs by the module (as in browsers): ${result.wasm.fullOwnCrcMcropsPerS.toFixed(1)} M crops/s (${wOwn.seconds.toFixed(3)} s)`,
);
console.log(
  `wasm stats over records (checks, stats; no CRC): ${result.wasm.statsMcropsPerS.toFixed(1)} M crops/s (${wStats.seconds.toFixed(3)} s)`,
);
console.log(
  `TS reference full inspect: ${result.reference.fullMcropsPerS.toFixed(1)} M crops/s (${rFull.seconds.toFixed(3)} s)`,
);
console.log(
  `speed-up ${result.speedup.toFixed(1)}×, results identical: ${same}; wasm ${result.wasm.bytes} B, gzip ${result.wasm.gzip} B, brotli ${result.wasm.brotli} B`,
);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/wasm.json", import.meta.url), JSON.stringify(result, null, 2) + "\n");
