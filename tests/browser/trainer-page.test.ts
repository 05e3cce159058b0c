// The browser trainer (web-trainer/, served by `distill train --serve`) in Debian's headless
// Chromium via playwright-core, against a real `wrangler dev` edge serving a real tiny run:
// (a) WebAssembly: the loss falls, the first losses equal the Node client's on the same batches
// within 1e-4, and the held-out top-1 is within 1 pt of the Node client's; (b) WebGPU (SwiftShader
// adapter from --enable-unsafe-webgpu): the same check, or a skip that says exactly why not;
// (c) a bad or expired token shows the edge's reason, dropped connections are retried, and
// pause/resume continues the very same training.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchClient } from "../../edge/client/batch-client.ts";
import { serveTrainerPage, type TrainerPageServer } from "../../gpu-cluster/cli/train-serve.ts";
import { channelStats, loadDataset } from "../../gpu-cluster/data/index.ts";
import { StreamTrainer } from "../../gpu-cluster/stream/stream-trainer.ts";
import type { RunManifest } from "../../shared/manifest.ts";
import {
  expiredTrainerToken,
  makeQuadrants,
  makeRun,
  ROOT,
  startEdge,
  token,
  uploadRun,
  type Edge,
} from "../stream/fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const FLAGS = [
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const K = 10; // first losses compared with the Node client's

const root = join(ROOT, "test-output", "trainer-page");
const data = join(root, "data");
const runDir = join(root, "run");
let edge: Edge;
let server: TrainerPageServer;
let m: RunManifest;
let trainer: string;
let wasmBrowser: Browser;
/** The Node client on the same stream (pixels from the edge, CPU EP): every loss and the val top-1. */
const node = { losses: [] as number[], accuracy: 0 };

interface PageStatus {
  state: string;
  losses: number[];
  steps: number;
  totalSteps: number;
  stepsPerSecond: number | null;
  firstStepMs: number | null;
  heldoutAccuracy: number | null;
  backend: string | null;
  error: string | null;
  retries: number;
}

const query = () => `?run=${m.runId}&arch=convnet-2&width=8&batch=8&lr=0.01`;
const maxDiff = (a: number[], b: number[], n: number) => Math.max(...a.slice(0, n).map((v, i) => Math.abs(v - b[i])));
const statusOf = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { distillTrainer: PageStatus }).distillTrainer);
const text = async (page: Page, id: string) => (await page.textContent(`[data-testid="${id}"]`))!.trim();

async function openPage(browser: Browser, params = ""): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${server.url}${query()}${params}`);
  return page;
}

async function train(page: Page, t: string): Promise<PageStatus> {
  await page.fill('[data-testid="token"]', t);
  await page.click('[data-testid="start"]');
  // the clock only catches a hang (vitest.node.config.ts): SwiftShader's WebGPU is slow on a busy
  // 2-core machine, so the wait stays just under the test's own limit
  await page.waitForFunction(
    () => ["done", "error"].includes((globalThis as unknown as { distillTrainer: PageStatus }).distillTrainer.state),
    null,
    { timeout: 540_000 },
  );
  return statusOf(page);
}

const title = hasChromium
  ? "browser trainer in headless Chromium"
  : `browser trainer in headless Chromium — SKIPPED: ${CHROMIUM} is absent (apt-get install chromium; CI's .ci/run does)`;

describe.skipIf(!hasChromium)(title, () => {
  beforeAll(async () => {
    makeQuadrants(data);
    m = makeRun(data, runDir);
    edge = await startEdge(join(root, "wrangler"));
    await uploadRun(edge, runDir, m);
    trainer = await token("trainer", [m.runId]);
    server = await serveTrainerPage({ edge: edge.url, data, heldout: 1000, port: 0 });
    // The Node client: the same StreamTrainer `distill train --pixels` runs, on onnxruntime-node.
    const splits = loadDataset(data, { seed: m.seeds.run });
    const client = await BatchClient.open({
      baseUrl: edge.url,
      token: trainer,
      run: m.runId,
      batchSize: 8,
      pixels: true,
    });
    const t = await StreamTrainer.create(
      {
        manifest: m,
        student: { arch: "convnet-2", width: 8, batch: 8, lr: 0.01, weightDecay: 0.01, seed: m.seeds.run },
        epochs: m.relabel.epochs,
        stats: channelStats(splits.train),
      },
      { threads: 1 },
    );
    for await (const b of client.batches()) node.losses.push(await t.step(b));
    node.accuracy = await t.accuracy(splits.val);
    await t.release();
    wasmBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", ...FLAGS],
    });
  });

  afterAll(async () => {
    await wasmBrowser?.close();
    await server?.close();
    edge?.stop();
  });

  let wasm: PageStatus;

  it("(a) WebAssembly: trains from the stream, first losses = the Node client's, held-out top-1 within 1 pt", async () => {
    const page = await openPage(wasmBrowser);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    wasm = await train(page, trainer);
    expect(wasm.error, errors.join("; ")).toBeNull();
    expect(wasm.state).toBe("done");
    expect(wasm.steps).toBe(node.losses.length);
    expect(wasm.backend).toMatch(/^wasm × \d+ threads?$/);
    for (let i = 0; i < K; i++) expect(Math.abs(wasm.losses[i] - node.losses[i]), `step ${i}`).toBeLessThan(1e-4);
    const quarter = Math.floor(wasm.losses.length / 4);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(wasm.losses.slice(-quarter))).toBeLessThan(mean(wasm.losses.slice(0, quarter)));
    // the student on 400 held-out images (the whole val split here) vs the Node client's top-1 on it
    expect(Math.abs(wasm.heldoutAccuracy! - node.accuracy)).toBeLessThanOrEqual(0.01);
    console.info(
      `trainer page, ${wasm.backend}: max |loss − Node's| over the first ${K} steps ${maxDiff(wasm.losses, node.losses, K).toExponential(1)}, held-out top-1 ${wasm.heldoutAccuracy} (Node ${node.accuracy}), ${wasm.stepsPerSecond?.toFixed(1)} steps/s`,
    );
    // every number on the page is what the trainer measured
    expect(await text(page, "step")).toBe(String(wasm.steps));
    expect(await text(page, "total-steps")).toBe(String(wasm.totalSteps));
    expect(await text(page, "epoch")).toBe(String(m.relabel.epochs));
    expect(await text(page, "loss")).toBe(wasm.losses.at(-1)!.toFixed(5));
    expect(await text(page, "heldout-accuracy")).toBe((wasm.heldoutAccuracy! * 100).toFixed(2));
    expect(await text(page, "heldout-images")).toBe("400");
    expect(Number(await text(page, "steps-per-second"))).toBeGreaterThan(0);
    expect(Number(await text(page, "first-step-ms"))).toBeGreaterThan(0);
    expect((await page.getAttribute('[data-testid="loss-curve"] polyline', "points"))!.split(" ")).toHaveLength(
      wasm.steps,
    );
    await page.close();
  });

  it("(c) a bad or expired token shows the edge's reason and what to do", async () => {
    const expired = await expiredTrainerToken([m.runId]);
    const page = await openPage(wasmBrowser);
    for (const [t, code, fix] of [
      [expired, "TOKEN_EXPIRED", "ask the run's admin for a new trainer token"],
      [trainer.slice(0, -4) + "AAAA", "TOKEN_INVALID", "paste the whole trainer token"],
      [await token("trainer", ["otherrun"]), "FORBIDDEN_RUN", "the token does not cover this run"],
    ]) {
      const s = await train(page, t);
      expect(s.state).toBe("error");
      const shown = await text(page, "error");
      expect(shown).toContain(code);
      expect(shown).toContain(fix);
      expect(shown).not.toContain(t);
      expect(await page.isVisible('[data-testid="error"]')).toBe(true);
    }
    await page.close();
  });

  it("(c) dropped connections are retried, and pause/resume continues the same training", async () => {
    const page = await openPage(wasmBrowser);
    let requests = 0;
    let dropped = 0;
    await page.route("**/v1/runs/*/batches/**", (route) => {
      if (++requests % 4 === 0) {
        dropped++;
        return route.abort("connectionreset");
      }
      return route.continue();
    });
    await page.fill('[data-testid="token"]', trainer);
    await page.click('[data-testid="start"]');
    await page.waitForFunction(
      () => (globalThis as unknown as { distillTrainer: PageStatus }).distillTrainer.steps >= 12,
      null,
      {
        timeout: 300_000,
      },
    );
    await page.click('[data-testid="pause"]');
    await page.waitForFunction(
      () => (globalThis as unknown as { distillTrainer: PageStatus }).distillTrainer.state === "paused",
      null,
      {
        timeout: 120_000,
      },
    );
    const paused = await statusOf(page);
    expect(paused.steps).toBeLessThan(paused.totalSteps);
    expect(paused.heldoutAccuracy).not.toBeNull(); // a pause scores the student as it stands
    await page.waitForTimeout(300);
    expect((await statusOf(page)).steps).toBe(paused.steps);
    await page.click('[data-testid="resume"]');
    await page.waitForFunction(
      () => (globalThis as unknown as { distillTrainer: PageStatus }).distillTrainer.state === "done",
      null,
      {
        timeout: 300_000,
      },
    );
    const s = await statusOf(page);
    expect(dropped).toBeGreaterThan(5);
    expect(s.retries).toBeGreaterThan(0);
    expect(s.losses).toHaveLength(wasm.losses.length);
    for (let i = 0; i < s.losses.length; i++)
      expect(Math.abs(s.losses[i] - wasm.losses[i]), `step ${i}`).toBeLessThan(1e-6);
    expect(s.heldoutAccuracy).toBe(wasm.heldoutAccuracy);
    await page.close();
  });

  it("(b) WebGPU (SwiftShader): the same check, or a skip saying exactly why it cannot run", async (ctx) => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--enable-unsafe-webgpu", ...FLAGS],
    });
    try {
      const page = await openPage(browser, "&ep=webgpu");
      const adapter = await page.evaluate(async () => {
        const gpu = (
          navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info: { architecture: string } } | null> } }
        ).gpu;
        const a = await gpu?.requestAdapter();
        return a ? a.info.architecture || "unknown" : null;
      });
      if (!adapter)
        return ctx.skip(
          "WebGPU: Chromium with --enable-unsafe-webgpu gave this page no adapter (no SwiftShader Vulkan driver in this chromium build?)",
        );
      const s = await train(page, trainer);
      if (s.error && /BatchNormalization trainingMode is not supported/.test(s.error))
        return ctx.skip(
          `WebGPU (${adapter} adapter): onnxruntime-web's WebGPU EP has no training-mode BatchNormalization kernel ("BatchNormalization trainingMode is not supported yet") and the compiled step still holds that node (Program lowers it to plain ops for ep "webgpu")`,
        );
      expect(s.error).toBeNull();
      expect(s.backend).toContain("webgpu");
      for (let i = 0; i < K; i++) expect(Math.abs(s.losses[i] - node.losses[i]), `step ${i}`).toBeLessThan(1e-4);
      expect(Math.abs(s.heldoutAccuracy! - node.accuracy)).toBeLessThanOrEqual(0.01);
      console.info(
        `trainer page, ${s.backend}: max |loss − Node's| over the first ${K} steps ${maxDiff(s.losses, node.losses, K).toExponential(1)}, held-out top-1 ${s.heldoutAccuracy} (Node ${node.accuracy})`,
      );
    } finally {
      await browser.close();
    }
  });
});
