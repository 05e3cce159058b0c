// The browser trainer: a person pastes a trainer token, picks a run and a student, and trains it
// in the tab. The training step is built here by the engine's pure graph/autodiff code (the
// same ClassifierTrainer `distill evaluate` compiles, so no server has to build a model per
// student config) and run by onnxruntime-web (wasm, or WebGPU where the browser has it); crops
// and soft labels stream from the edge through the same BatchClient the Node client uses.
// Served by `distill train --serve` (same origin: /v1/* reaches the edge, /heldout.bin, /ort/).
import { BatchClient, BatchClientError, type TrainingBatch } from "../../edge/client/batch-client.ts";
import { StreamTrainer } from "../../gpu-cluster/stream/stream-trainer.ts";
import { decodeHeldOut, type HeldOut } from "../../gpu-cluster/stream/heldout.ts";
import {
  webBackend,
  webGpuAdapterInfo,
  webGpuProblem,
  type WebExecutionProvider,
} from "../../gpu-cluster/runtime/web-backend.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const field = (testid: string) => document.querySelector(`[data-testid="${testid}"]`) as HTMLElement;
const show = (testid: string, v: string | number) => (field(testid).textContent = String(v));

/** What tests and curious users read: every loss at full precision, the state, the numbers shown. */
interface TrainerStatus {
  state: "idle" | "starting" | "training" | "paused" | "evaluating" | "done" | "error";
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
const status: TrainerStatus = {
  state: "idle",
  losses: [],
  steps: 0,
  totalSteps: 0,
  stepsPerSecond: null,
  firstStepMs: null,
  heldoutAccuracy: null,
  backend: null,
  error: null,
  retries: 0,
};
(globalThis as unknown as { distillTrainer: TrainerStatus }).distillTrainer = status;

let trainer: StreamTrainer | null = null;
let client: BatchClient | null = null;
let heldout: HeldOut | null = null;
let pauseRequested = false;

function setState(s: TrainerStatus["state"]): void {
  status.state = s;
  show("state", s);
  $<HTMLButtonElement>("start").disabled = s === "starting" || s === "training" || s === "evaluating";
  $<HTMLButtonElement>("pause").disabled = s !== "training";
  $<HTMLButtonElement>("resume").disabled = s !== "paused";
}

/** The edge's refusals, in words a person can act on. */
function explain(e: unknown): string {
  if (e instanceof BatchClientError) {
    const fix: Record<string, string> = {
      TOKEN_MISSING: "paste a trainer token",
      TOKEN_INVALID: "the token is not one the edge signed: paste the whole trainer token, as issued",
      TOKEN_EXPIRED: "ask the run's admin for a new trainer token",
      TOKEN_REVOKED: "ask the run's admin for a new trainer token",
      FORBIDDEN_ROLE: "this page needs a trainer token",
      FORBIDDEN_RUN: "the token does not cover this run: pick one of its runs, or ask for a token for this one",
      RUN_NOT_FOUND: "no such run on this edge: check the run id",
    };
    return `The edge refused the token or run (${e.code}): ${e.message.replace(/^edge \d+ \w+: /, "")}. ${fix[e.code] ?? ""}`.trim();
  }
  return `Training stopped: ${e instanceof Error ? e.message : String(e)}`;
}

function fail(e: unknown): void {
  status.error = explain(e);
  const el = $("error");
  el.textContent = status.error;
  el.hidden = false;
  setState("error");
}

/** The runs a token lists (its claims, read without verifying: the edge verifies on every request). */
function runsOf(token: string): string[] {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { runs?: unknown };
    return Array.isArray(claims.runs) ? claims.runs.filter((r): r is string => typeof r === "string") : [];
  } catch {
    return [];
  }
}

function fillRuns(): void {
  const select = $<HTMLSelectElement>("run");
  const params = new URLSearchParams(location.search);
  const runs = runsOf($<HTMLInputElement>("token").value.trim());
  const wanted = params.get("run");
  if (wanted && !runs.includes(wanted)) runs.unshift(wanted);
  select.replaceChildren(...runs.map((r) => new Option(r, r, false, r === wanted)));
}

function drawCurve(): void {
  const l = status.losses;
  const poly = $("curve").querySelector("polyline")!;
  if (l.length < 2) return poly.setAttribute("points", "");
  const lo = Math.min(...l);
  const hi = Math.max(...l);
  const span = hi - lo || 1;
  const n = Math.max(status.totalSteps, l.length);
  poly.setAttribute(
    "points",
    l.map((v, i) => `${((i / (n - 1)) * 636 + 2).toFixed(1)},${(196 - ((v - lo) / span) * 192).toFixed(1)}`).join(" "),
  );
}

async function evaluateHeldOut(): Promise<void> {
  if (!trainer || !heldout) return;
  const prev = status.state;
  setState("evaluating");
  status.heldoutAccuracy = await trainer.accuracy(heldout.set);
  show("heldout-accuracy", (status.heldoutAccuracy * 100).toFixed(2));
  setState(prev === "evaluating" ? "paused" : prev);
}

async function trainLoop(): Promise<void> {
  const t = trainer!;
  setState("training");
  let windowStart = performance.now();
  let windowSteps = 0;
  let lastDraw = 0;
  for await (const b of client!.batches(t.position, t.config.epochs) as AsyncGenerator<TrainingBatch>) {
    const loss = await t.step(b);
    status.losses.push(loss);
    status.steps = t.steps;
    windowSteps++;
    const now = performance.now();
    if (status.firstStepMs === null) {
      status.firstStepMs = now - startedAt;
      show("first-step-ms", Math.round(status.firstStepMs));
      windowStart = now;
      windowSteps = 0;
    } else if (now - windowStart > 1000) {
      status.stepsPerSecond = windowSteps / ((now - windowStart) / 1000);
      show("steps-per-second", status.stepsPerSecond.toFixed(2));
    }
    show("step", t.steps);
    show("epoch", Math.min(t.position.epoch + 1, t.config.epochs));
    show("loss", loss.toFixed(5));
    if (now - lastDraw > 250 || t.done) {
      drawCurve();
      lastDraw = now;
    }
    if (pauseRequested) break; // leaving the loop cancels the requests in flight
  }
  if (!status.stepsPerSecond && windowSteps > 0) {
    status.stepsPerSecond = windowSteps / ((performance.now() - windowStart) / 1000);
    show("steps-per-second", status.stepsPerSecond.toFixed(2));
  }
  drawCurve();
  if (pauseRequested) {
    pauseRequested = false;
    setState("paused");
    await evaluateHeldOut();
    return;
  }
  await evaluateHeldOut();
  setState("done");
}

let startedAt = 0;

async function start(): Promise<void> {
  $("error").hidden = true;
  status.error = null;
  status.losses = [];
  status.firstStepMs = null;
  status.stepsPerSecond = null;
  status.heldoutAccuracy = null;
  setState("starting");
  startedAt = performance.now();
  try {
    if (trainer) await trainer.release();
    trainer = null;
    const token = $<HTMLInputElement>("token").value.trim();
    const run = $<HTMLSelectElement>("run").value;
    if (!token) throw new BatchClientError(401, "TOKEN_MISSING", "no token was pasted");
    if (!run) throw new Error("pick a run (the token lists none: is it a trainer token?)");
    const batchSize = Number($<HTMLInputElement>("batch").value);
    const ep = $<HTMLSelectElement>("ep").value as WebExecutionProvider;
    if (ep === "webgpu") {
      const problem = await webGpuProblem();
      if (problem) throw new Error(`WebGPU is not available: ${problem}. Choose WebAssembly.`);
    }
    client = await BatchClient.open({
      baseUrl: location.origin,
      token,
      run,
      batchSize,
      pixels: true,
      prefetch: 4,
      retries: 8,
      onRetry: () => {
        status.retries++;
      },
    });
    heldout ??= decodeHeldOut(await (await fetch("heldout.bin")).arrayBuffer());
    show("heldout-images", heldout.set.labels.length);
    const m = client.manifest;
    const epochsField = $<HTMLInputElement>("epochs").value;
    const threads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    trainer = await StreamTrainer.create(
      {
        manifest: m,
        student: {
          arch: $<HTMLSelectElement>("arch").value,
          // empty: as `distill evaluate` chooses (StreamTrainer follows the run's teacher)
          width: $<HTMLInputElement>("width").value ? Number($<HTMLInputElement>("width").value) : undefined,
          batch: batchSize,
          lr: Number($<HTMLInputElement>("lr").value),
          weightDecay: 0.01,
          seed: m.seeds.run,
        },
        epochs: epochsField ? Number(epochsField) : m.relabel.epochs,
        stats: heldout.stats,
      },
      {
        backend: webBackend({ ep, wasmPaths: new URL("ort/", location.href).href, threads }),
        // Program compiles a WebGPU graph for WebGPU (BN batch statistics as plain ops, where the engine does that)
        ep: ep === "webgpu" ? "webgpu" : undefined,
      },
    );
    $<HTMLInputElement>("width").placeholder = `${trainer.config.student.width}`;
    status.totalSteps = trainer.totalSteps;
    status.backend =
      ep === "wasm" ? `wasm × ${threads} thread${threads > 1 ? "s" : ""}` : `webgpu (${await webGpuAdapterInfo()})`;
    show("total-steps", trainer.totalSteps);
    show("backend", status.backend);
    await trainLoop();
  } catch (e) {
    fail(e);
  }
}

async function resume(): Promise<void> {
  try {
    await trainLoop();
  } catch (e) {
    fail(e);
  }
}

function init(): void {
  const params = new URLSearchParams(location.search);
  for (const id of ["arch", "width", "batch", "lr", "epochs", "ep"]) {
    const v = params.get(id);
    if (v !== null) ($(id) as HTMLInputElement).value = v;
  }
  $("token").addEventListener("input", fillRuns);
  $("start").addEventListener("click", () => void start());
  $("pause").addEventListener("click", () => {
    pauseRequested = true;
  });
  $("resume").addEventListener("click", () => void resume());
  fillRuns();
  void webGpuAdapterInfo().then((info) => {
    show("webgpu-adapter", info ? `WebGPU adapter: ${info}` : "no WebGPU adapter in this browser");
    if (!info) ($("ep").querySelector('option[value="webgpu"]') as HTMLOptionElement).disabled = true;
  });
  setState("idle");
}

init();
