// Edge load test (issue 16): `wrangler dev` on loopback, readers and uploaders at the same time.
// Readers: autocannon on GET batches of the published epochs. Uploaders: autocannon PUTting the
// run's images and label-table shards (new ones publish, repeats answer 200 unchanged), so
// shards are published while batches are read. A checker reads batches alongside, hashing
// every body and comparing it with the SHA-256 of the message whose labels were checked against
// the local table before the load (epochs published during the load: labels checked directly).
// Prints a table and writes bench/results/edge-load.json.
//   npx tsx bench/edge-load.bench.ts [--seconds 15] [--readers 24] [--uploaders 8]
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeBatch } from "../shared/batch-format.ts";
import { decodeLabelTable } from "../shared/label-table/index.ts";
import { startWranglerDev } from "../edge/scripts/wrangler-dev.ts";
import { imageFor, manifestFor, tableFor, tokenFor } from "../tests/edge/fixtures.ts";

const require = createRequire(import.meta.url);
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  errors: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
type CannonRequest = {
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
  onResponse?: (status: number, body: string) => void;
};
const autocannon = require("autocannon") as (o: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: CannonRequest[];
}) => Promise<CannonResult>;

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("seconds", 15);
const READERS = arg("readers", 24);
const UPLOADERS = arg("uploaders", 8);
const CHECKERS = 4;
const RUN = "load1";
const SHARDS = 8,
  EPOCHS_PER_SHARD = 5,
  PUBLISHED_BEFORE = 4, // shards 0..3 before the load, 4..7 during it
  BATCH = 64;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function main(): Promise<void> {
  const persist = mkdtempSync(join(tmpdir(), "edge-load-"));
  const dev = await startWranglerDev(persist);
  try {
    const m = manifestFor(RUN, { classes: 100, ipc: 10, epochs: SHARDS * EPOCHS_PER_SHARD, k: 10, sourceSize: 16 });
    const admin = await tokenFor("admin", "*");
    const worker = await tokenFor("worker", [RUN]);
    const trainer = await tokenFor("trainer", [RUN]);
    const send = (path: string, token: string, init: RequestInit = {}) =>
      fetch(dev.base + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
    const created = await send("/v1/runs", admin, { method: "POST", body: JSON.stringify(m) });
    if (created.status !== 201) throw new Error(`create run: ${created.status} ${await created.text()}`);

    const shards = Array.from({ length: SHARDS }, (_, s) => tableFor(m, s * EPOCHS_PER_SHARD, EPOCHS_PER_SHARD));
    const tables = shards.map((b) => decodeLabelTable(b));
    const images = Array.from({ length: m.images }, (_, i) => imageFor(m, i).png);
    const refusals = new Map<string, number>(); // "status first words of the body" → count
    const putReq = (path: string, bytes: Uint8Array): CannonRequest => ({
      method: "PUT",
      path,
      body: Buffer.from(bytes),
      headers: { "x-content-sha256": sha(bytes), "content-type": "application/octet-stream" },
      onResponse: (status, body) => {
        if (status >= 300) {
          const key = `${status} ${path.replace(/[0-9]+$/, "N")}: ${body.slice(0, 90)}`;
          refusals.set(key, (refusals.get(key) ?? 0) + 1);
        }
      },
    });
    for (let s = 0; s < PUBLISHED_BEFORE; s++) {
      const r = await send(`/v1/runs/${RUN}/tables/${s}`, worker, {
        method: "PUT",
        body: shards[s] as Uint8Array<ArrayBuffer>,
        headers: { "x-content-sha256": sha(shards[s]) },
      });
      if (r.status !== 201) throw new Error(`shard ${s}: ${r.status} ${await r.text()}`);
    }

    // The labels a batch must carry, from the local tables (the truth).
    const perEpoch = Math.ceil(m.images / BATCH);
    const labelsMatch = (epoch: number, body: Uint8Array): boolean => {
      const d = decodeBatch(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
      const t = tables[Math.floor(epoch / EPOCHS_PER_SHARD)];
      for (let s = 0; s < d.slots; s++) {
        const rec = t.record(epoch, d.firstSlot + s);
        for (let j = 0; j < m.relabel.k; j++)
          if (rec.ids[j] !== d.ids[s * m.relabel.k + j] || rec.probs[j] !== d.probs[s * m.relabel.k + j]) return false;
      }
      return d.epoch === epoch;
    };
    const path = (e: number, b: number) => `/v1/runs/${RUN}/batches/${e}/${b}?size=${BATCH}`;
    const readPaths: string[] = [];
    const expected = new Map<string, string>();
    for (let e = 0; e < PUBLISHED_BEFORE * EPOCHS_PER_SHARD; e++)
      for (let b = 0; b < perEpoch; b++) {
        const p = path(e, b);
        const body = new Uint8Array(await (await send(p, trainer)).arrayBuffer());
        if (!labelsMatch(e, body)) throw new Error(`${p}: labels differ from the local table before the load`);
        expected.set(p, sha(body));
        readPaths.push(p);
      }

    // Uploaders: the shards not yet published (early in the list, so every connection PUTs each:
    // one publishes, the others get 200 unchanged), then every image (new → 201, again → 200).
    const uploads: CannonRequest[] = [];
    for (let i = 0; i < m.images; i++) {
      uploads.push(putReq(`/v1/runs/${RUN}/images/${i}`, images[i]));
      const s = PUBLISHED_BEFORE + Math.floor(i / 10);
      if (i % 10 === 5 && s < SHARDS) uploads.push(putReq(`/v1/runs/${RUN}/tables/${s}`, shards[s]));
    }

    // Checker: reads every epoch (published or not yet), hashes every body.
    const check = { reads: 0, checked: 0, mismatched: 0, notYet: 0, other: 0 };
    let loading = true;
    const checker = async (seed: number) => {
      let n = seed;
      while (loading) {
        const e = n % m.relabel.epochs;
        const b = Math.floor(n / m.relabel.epochs) % perEpoch;
        n += 7919;
        const p = path(e, b);
        const r = await send(p, trainer);
        const body = new Uint8Array(await r.arrayBuffer());
        check.reads++;
        if (r.status === 404 && e >= PUBLISHED_BEFORE * EPOCHS_PER_SHARD) check.notYet++;
        else if (r.status !== 200) check.other++;
        else {
          check.checked++;
          const want = expected.get(p);
          if (want ? sha(body) !== want : !labelsMatch(e, body)) check.mismatched++;
        }
      }
    };

    console.log(
      `wrangler dev on ${dev.base}; run ${RUN}: ${m.images} images (16×16 gray PNG), ${m.relabel.epochs} epochs in ${SHARDS} shards of ${(shards[0].length / 1e3).toFixed(0)} kB, k = ${m.relabel.k}; ${SECONDS} s, ${READERS} reader + ${UPLOADERS} uploader connections + ${CHECKERS} checkers`,
    );
    const checkers = Array.from({ length: CHECKERS }, (_, i) => checker(i * 1009 + 1));
    const [reads, ups] = await Promise.all([
      autocannon({
        url: dev.base,
        connections: READERS,
        duration: SECONDS,
        headers: { authorization: `Bearer ${trainer}` },
        requests: readPaths.map((p) => ({ method: "GET", path: p })),
      }),
      autocannon({
        url: dev.base,
        connections: UPLOADERS,
        duration: SECONDS,
        headers: { authorization: `Bearer ${worker}` },
        requests: uploads,
      }),
    ]);
    loading = false;
    await Promise.all(checkers);

    const status = (await (await send(`/v1/runs/${RUN}/status`, trainer)).json()) as {
      images: { present: number };
      tables: { epochsPresent: number; shards: unknown[] };
    };
    // After the load: every batch of every epoch once more, labels against the local tables.
    let after = 0,
      afterBad = 0;
    for (let e = 0; e < m.relabel.epochs; e++)
      for (let b = 0; b < perEpoch; b++) {
        const r = await send(path(e, b), trainer);
        const body = new Uint8Array(await r.arrayBuffer());
        if (r.status === 404) continue;
        after++;
        if (r.status !== 200 || !labelsMatch(e, body)) afterBad++;
      }

    const row = (name: string, r: CannonResult) => ({
      name,
      requestsPerSecond: r.requests.average,
      total: r.requests.total,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.average, max: r.latency.max },
      errors: r.errors,
      non2xx: r.non2xx,
      statuses: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
    });
    const rows = [row(`readers (GET batch ${BATCH})`, reads), row("uploaders (PUT image/shard)", ups)];
    for (const r of rows)
      console.log(
        `${r.name.padEnd(28)} ${r.requestsPerSecond.toFixed(1).padStart(8)} req/s  p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  errors ${r.errors}  non-2xx ${r.non2xx}  statuses ${JSON.stringify(r.statuses)}`,
      );
    for (const [what, n] of refusals) console.log(`  uploader got ${n} × ${what}`);
    if (process.argv.includes("--server-log"))
      console.log(
        dev
          .output()
          .split("\n")
          .filter((l) => !/Request\.cf|getaddrinfo|GetAddrInfoReqWrap/.test(l))
          .join("\n"),
      );
    console.log(
      `checker: ${check.reads} reads, ${check.checked} bodies checked, ${check.mismatched} not matching their SHA-256 / labels, ${check.notYet} not yet published, ${check.other} other statuses`,
    );
    console.log(
      `after: ${status.images.present}/${m.images} images, ${status.tables.shards.length}/${SHARDS} shards (${status.tables.epochsPresent} epochs); ${after} batches re-read, ${afterBad} wrong`,
    );
    const here = dirname(fileURLToPath(import.meta.url));
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(
      join(here, "results", "edge-load.json"),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
          node: process.version,
          seconds: SECONDS,
          connections: { readers: READERS, uploaders: UPLOADERS, checkers: CHECKERS },
          rows,
          uploaderRefusals: Object.fromEntries(refusals),
          checker: check,
          after: {
            images: status.images.present,
            shards: status.tables.shards.length,
            batches: after,
            wrong: afterBad,
          },
        },
        null,
        2,
      ) + "\n",
    );
    const failed =
      reads.errors + ups.errors + reads.non2xx + ups.non2xx + check.mismatched + check.other + afterBad > 0;
    if (failed) process.exitCode = 1;
  } finally {
    await dev.stop();
    rmSync(persist, { recursive: true, force: true });
  }
}

await main();
