// Training clients benchmark (issue 13): steps/s of a ConvNet-3 student (width 32, batch 64,
// 28 × 28 × 1, 10 classes) trained from a `wrangler dev` batch stream with edge pixels, side by
// side in one run: Node (onnxruntime-node CPU EP, 1 thread and ORT's default), the browser on
// WebAssembly (onnxruntime-web, threads as the cross-origin-isolated page allows) and on WebGPU
// (Chromium's SwiftShader adapter: a software GPU, for correctness only, never for speed), plus
// the time to first step (manifest fetch + model build + session creation + first batch + step).
// Without --run the run is MNIST-shaped with random soft labels (speed does not depend on them).
// With --run, also docs/trainer-page.png: the page mid-training (the README's screenshot).
// Usage: npx tsx bench/trainer.bench.ts [--quick] [--run <MNIST run folder> --epochs 40]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { BatchClient } from "../edge/client/batch-client.ts";
import { serveTrainerPage } from "../gpu-cluster/cli/train-serve.ts";
import { channelStats, loadDataset } from "../gpu-cluster/data/index.ts";
import { StreamTrainer } from "../gpu-cluster/stream/stream-trainer.ts";
import { parseManifest } from "../shared/manifest.ts";
import { makeRunFolder } from "../tests/inspect/run-folder.ts";
import { ROOT, startEdge, token, uploadRun } from "../tests/stream/fixture.ts";

const quick = process.argv.includes("--quick");
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** A real MNIST run folder (e.g. runs/mnist-ipc10-seed0): the page's screenshot then shows a real loss curve, and both clients' held-out top-1 are compared. */
const realRun = arg("--run");
const EPOCHS = Number(arg("--epochs") ?? (quick ? 2 : 4));
const out = join(ROOT, "test-output", "trainer-bench");
const runDir = realRun ?? join(out, "run");
const FLAGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

interface Row {
  client: string;
  /** Top-1 on the page's held-out set (the first 500 MNIST test images), with --run. */
  heldout?: number;
  steps: number;
  stepsPerSecond: number | null;
  firstStepMs: number | null;
  note: string;
}

if (!realRun)
  makeRunFolder(runDir, {
    classes: 10,
    ipc: 64,
    epochs: EPOCHS,
    cropsPerImage: 1,
    k: 10,
    quant: "u8",
    hasBox: false,
    seed: 1,
    size: 28,
    agreement: 0.7,
  });
const m = parseManifest(JSON.parse(readFileSync(join(runDir, "manifest.json"), "utf8")));
const edge = await startEdge(join(out, "wrangler"));
const rows: Row[] = [];
try {
  await uploadRun(edge, runDir, m);
  const trainer = await token("trainer", [m.runId]);
  const { train, val } = loadDataset(undefined, { seed: 0 });
  const heldoutSet = { ...val, images: val.images.subarray(0, 500 * 28 * 28), labels: val.labels.subarray(0, 500) };
  const stats = channelStats(train);
  const student = { arch: "convnet-3", width: 32, batch: 64, lr: 0.003, weightDecay: 0.01, seed: 0 };

  for (const threads of [1, 0]) {
    const t0 = performance.now();
    const client = await BatchClient.open({
      baseUrl: edge.url,
      token: trainer,
      run: m.runId,
      batchSize: 64,
      pixels: true,
      prefetch: 4,
    });
    const t = await StreamTrainer.create({ manifest: m, student, epochs: EPOCHS, stats }, { threads });
    let first: number | null = null;
    let warm = 0;
    for await (const b of client.batches({ epoch: 0, batch: 0 }, EPOCHS)) {
      await t.step(b);
      if (first === null) {
        first = performance.now() - t0;
        warm = performance.now();
      }
    }
    const steps = t.steps - 1;
    rows.push({
      heldout: realRun ? await t.accuracy(heldoutSet) : undefined,
      client: `Node, onnxruntime-node CPU EP, ${threads ? `${threads} thread` : "ORT default threads"}`,
      steps,
      stepsPerSecond: steps / ((performance.now() - warm) / 1000),
      firstStepMs: first,
      note: "",
    });
    await t.release();
  }

  const server = await serveTrainerPage({ edge: edge.url, heldout: 500, port: 0 });
  const wasmBrowser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...FLAGS, "--disable-gpu"] });
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  // the README's screenshot comes from a real run (--run); a synthetic run's goes to test-output/
  rows.push(
    await pageRun(wasmBrowser, "wasm", realRun ? join(ROOT, "docs", "trainer-page.png") : join(out, "page.png")),
  );
  await wasmBrowser.close();
  const gpuBrowser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [...FLAGS, "--enable-unsafe-webgpu"],
  });
  rows.push(await pageRun(gpuBrowser, "webgpu", undefined, 1)); // one epoch: SwiftShader is slow
  await gpuBrowser.close();
  await server.close();

  async function pageRun(browser: Browser, ep: string, screenshot?: string, epochs = EPOCHS): Promise<Row> {
    const p = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    await p.goto(`${server.url}?run=${m.runId}&arch=convnet-3&width=32&batch=64&lr=0.003&ep=${ep}&epochs=${epochs}`);
    await p.fill('[data-testid="token"]', trainer);
    type S = {
      state: string;
      steps: number;
      totalSteps: number;
      firstStepMs: number | null;
      error: string | null;
      backend: string | null;
      heldoutAccuracy: number | null;
    };
    await p.click('[data-testid="start"]');
    // steps/s between the first step and the last, timed in the page
    await p.waitForFunction(
      () => {
        const s = (globalThis as unknown as { distillTrainer: S }).distillTrainer;
        return s.steps >= 1 || s.state === "error";
      },
      null,
      { timeout: 600_000 },
    );
    const t1 = await p.evaluate(
      () => [performance.now(), (globalThis as unknown as { distillTrainer: S }).distillTrainer.steps] as const,
    );
    if (screenshot) {
      await p.waitForFunction(
        () => {
          const s = (globalThis as unknown as { distillTrainer: S }).distillTrainer;
          return s.steps >= s.totalSteps / 2 || s.state === "error";
        },
        null,
        { timeout: 600_000 },
      );
      await p.screenshot({ path: screenshot });
    }
    await p.waitForFunction(
      () => {
        const s = (globalThis as unknown as { distillTrainer: S }).distillTrainer;
        return s.steps >= s.totalSteps || s.state === "error";
      },
      null,
      { timeout: 600_000 },
    );
    const t2 = await p.evaluate(
      () => [performance.now(), (globalThis as unknown as { distillTrainer: S }).distillTrainer.steps] as const,
    );
    // the held-out top-1 comes after the last step
    await p.waitForFunction(
      () => ["done", "error"].includes((globalThis as unknown as { distillTrainer: S }).distillTrainer.state),
      null,
      { timeout: 600_000 },
    );
    const s = await p.evaluate(() => (globalThis as unknown as { distillTrainer: S }).distillTrainer);
    await p.close();
    if (s.error)
      return {
        client: `Chromium, onnxruntime-web ${ep}`,
        steps: s.steps,
        stepsPerSecond: null,
        firstStepMs: null,
        note: s.error.slice(0, 200),
      };
    return {
      heldout: realRun ? (s.heldoutAccuracy ?? undefined) : undefined,
      client: `Chromium, onnxruntime-web ${s.backend}`,
      steps: t2[1] - t1[1],
      stepsPerSecond: (t2[1] - t1[1]) / ((t2[0] - t1[0]) / 1000),
      firstStepMs: s.firstStepMs,
      note: ep === "webgpu" ? "SwiftShader (software Vulkan): correctness only, not a speed figure" : "",
    };
  }
} finally {
  edge.stop();
}

const result = {
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} at the end`,
  model: "ConvNet-3 width 32, batch 64, 28×28×1, 10 classes, KL + AdamW step, edge pixels",
  run: realRun
    ? `${realRun} (${m.runId}: ${m.images} images, trained ${EPOCHS} of its ${m.relabel.epochs} epochs)`
    : "synthetic, random soft labels",
  epochs: EPOCHS,
  rows,
};
console.log(`| client | steps timed | steps/s | time to first step | held-out top-1 |\n|---|---:|---:|---:|---:|`);
for (const r of rows)
  console.log(
    `| ${r.client} | ${r.steps} | ${r.stepsPerSecond?.toFixed(2) ?? "–"} | ${r.firstStepMs ? `${Math.round(r.firstStepMs)} ms` : "–"} | ${r.heldout === undefined ? "–" : `${(r.heldout * 100).toFixed(2)} %`} | ${r.note}`,
  );
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench", "results", realRun ? "trainer-mnist.json" : "trainer.json"),
  JSON.stringify(result, null, 2) + "\n",
);
