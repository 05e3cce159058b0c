// What the training-client tests share: a small image-folder dataset, a real distilled run of
// it (`distill run`, tiny settings), `wrangler dev` started on a free port with its own local
// R2/KV, the run uploaded to it, and tokens signed with the development key.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Random } from "../../gpu-cluster/data/index.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { issueToken } from "../../edge/src/auth/tokens.ts";
import type { Role } from "../../edge/src/auth/claims.ts";
import { DEV_SIGNING_KEY } from "../../edge/scripts/dev-key.ts";
import { startWranglerDev } from "../../edge/scripts/wrangler-dev.ts";
import { writeQuadrantClasses } from "../cluster/tiny-run.ts";

export const ROOT = process.cwd();

/** 4 classes of 16 × 16 gray images, a faint square in quadrant c under heavy noise; train/ 24 and val/ 100 per class. */
export function makeQuadrants(dir: string, seed = 5): void {
  rmSync(dir, { recursive: true, force: true });
  const rng = new Random(seed);
  const faint = { on: 0.65, off: 0.35, noise: 0.25 };
  writeQuadrantClasses(join(dir, "train"), 24, rng, faint);
  writeQuadrantClasses(join(dir, "val"), 100, rng, faint);
}

/** The tiny student every client test trains (ConvNet-2, width 8, batch 8), as `distill evaluate` flags and as `distill train` flags. */
export const STUDENT = [
  "--students",
  "convnet-2",
  "--student-width",
  "8",
  "--student-batch",
  "8",
  "--student-lr",
  "0.01",
];
export const TRAIN_STUDENT = [
  "--student",
  "convnet-2",
  "--student-width",
  "8",
  "--student-batch",
  "8",
  "--student-lr",
  "0.01",
];

/** `distill …` in a child process (node --import tsx: one process, so a signal reaches the CLI itself). Blocks. */
export function distill(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", "gpu-cluster/cli/distill.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0", ...env },
  });
}

/** The same without blocking this process (whose servers, e.g. a proxy, must keep answering). */
export function distillChild(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", "gpu-cluster/cli/distill.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: "0", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (status) => resolve({ status, stdout, stderr })),
  );
  return { child, done };
}

/** The flags of the quadrants run (`makeRun`), for `distill run` or a stage command on it: IPC 4, 24 relabel epochs, no baselines. */
export const runArgs = (data: string, out: string): string[] => [
  "--data",
  data,
  "--out",
  out,
  "--ipc",
  "4",
  "--seed",
  "3",
  // 4-bit images: exact in the edge's PNGs (the train clients' test checks the edge's crops bit for bit)
  "--image-bits",
  "4",
  "--teacher-arch",
  "convnet-2",
  "--teacher-width",
  "8",
  "--teacher-epochs",
  "4",
  "--iterations",
  "20",
  "--recover-batch",
  "8",
  "--epochs",
  "24",
  ...STUDENT,
  "--no-baselines",
  "--threads",
  "1",
  "--quiet",
];

/** `distill run` (squeeze, recover, relabel, evaluate without baselines) on the quadrants: IPC 4, 24 relabel epochs. */
export function makeRun(data: string, out: string): RunManifest {
  const r = distill(["run", ...runArgs(data, out)]);
  if (r.status !== 0) throw new Error(`distill run failed:\n${r.stderr}`);
  return parseManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
}

export interface Edge {
  url: string;
  stop(): void;
}

/** `wrangler dev` (local workerd, R2 and KV under a fresh `persist`, the dev signing key) on a free port. */
export async function startEdge(persist: string): Promise<Edge> {
  rmSync(persist, { recursive: true, force: true });
  const dev = await startWranglerDev(persist);
  return { url: dev.base, stop: () => void dev.stop() };
}

export async function token(role: Role, runs: string[] | "*", ttlSeconds = 3600): Promise<string> {
  return (await issueToken(DEV_SIGNING_KEY, { role, runs, ttlSeconds })).token;
}

/** A trainer token for `runs` that expired an hour ago (issued two minutes' lifetime before that). */
export async function expiredTrainerToken(runs: string[]): Promise<string> {
  const issuedAt = Math.floor(Date.now() / 1000) - 3600;
  return (await issueToken(DEV_SIGNING_KEY, { role: "trainer", runs, ttlSeconds: 60 }, issuedAt)).token;
}

/** Creates the run on the edge and uploads its images and label table (edge/scripts/upload-run.ts). */
export async function uploadRun(edge: Edge, runDir: string, m: RunManifest): Promise<void> {
  const admin = await token("admin", "*");
  const worker = await token("worker", [m.runId]);
  const { done } = (() => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "edge/scripts/upload-run.ts",
        runDir,
        "--url",
        edge.url,
        "--worker",
        worker,
        "--admin",
        admin,
      ],
      { cwd: ROOT },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    return {
      done: new Promise<{ status: number | null; output: string }>((r) =>
        child.once("close", (status) => r({ status, output })),
      ),
    };
  })();
  const r = await done;
  if (r.status !== 0) throw new Error(`upload-run failed:\n${r.output}`);
  if (!existsSync(join(runDir, "labels.dlt"))) throw new Error("the run has no labels.dlt");
}
