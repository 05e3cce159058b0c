// A tiny image-folder dataset and run options for the cluster tests: 4 classes of 16×16 gray
// images (a bright square in quadrant c), small enough that every stage takes seconds.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writePng } from "../../gpu-cluster/io/png.ts";
import { Random } from "../../gpu-cluster/data/index.ts";

export const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

/** How a quadrant image looks: the square's and the background's grey level, and the noise's std. */
export interface QuadrantLook {
  on: number;
  off: number;
  noise: number;
}

/** `dir`/class0 … class3 of `perClass` 16 × 16 gray images each, a square in quadrant c, drawn from `rng` in order. */
export function writeQuadrantClasses(dir: string, perClass: number, rng: Random, look: QuadrantLook): void {
  for (let c = 0; c < 4; c++) {
    mkdirSync(join(dir, `class${c}`), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = new Float32Array(256);
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) {
          const inside = y < 8 === c < 2 && x < 8 === (c % 2 === 0);
          px[y * 16 + x] = Math.min(1, Math.max(0, (inside ? look.on : look.off) + look.noise * rng.normal()));
        }
      writePng(join(dir, `class${c}`, `${i}.png`), { data: px, channels: 1, height: 16, width: 16 });
    }
  }
}

/** The cluster and CLI tests' data: a bright square under light noise. */
export function writeQuadrants(dir: string, perClass = 24, seed = 5): void {
  writeQuadrantClasses(dir, perClass, new Random(seed), { on: 0.8, off: 0.1, noise: 0.1 });
}

/**
 * Run options: IPC 4 with recover batches of 4 (4 recover batches at 8 bits), 6 relabel epochs
 * for 16 images; `gate` extra flags of the recover gate (its defaults: []), else none
 * (--no-recover-gate); `bits` per pixel: 8 unless given (auto, the default, may choose 4 here).
 */
export function tinyOptions(data: string, out: string, runId = "tiny0", gate?: string[], bits = "8"): string[] {
  return [
    ...["--data", data, "--out", out, "--run-id", runId, "--ipc", "4", "--seed", "3"],
    ...["--teacher-arch", "convnet-2", "--teacher-width", "8", "--teacher-epochs", "2"],
    ...["--iterations", "12", "--recover-batch", "4", "--select-from", "3", "--epochs", "6"],
    ...(gate ?? ["--no-recover-gate"]),
    ...["--students", "convnet-2", "--student-width", "8", "--student-batch", "4", "--threads", "1", "--quiet"],
    ...["--image-bits", bits],
  ];
}

/** `args` without `flag` and its value. */
export const without = (args: string[], flag: string) => args.filter((a, i) => a !== flag && args[i - 1] !== flag);

/** A distill call that must succeed; its stderr. */
export function ok(r: ReturnType<typeof distill>): string {
  if (r.status !== 0) throw new Error(`distill exited ${r.status}: ${r.stderr}`);
  return r.stderr;
}

export function distill(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(tsx, ["gpu-cluster/cli/distill.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0", ...env },
  });
}

/** The single-process reference: data, then squeeze, recover and relabel in `single` (about 10 s; the gate's students add some). */
export function referenceRun(data: string, single: string, gate?: string[], bits?: string): void {
  writeQuadrants(data);
  for (const stage of ["squeeze", "recover", "relabel"]) {
    const r = distill([stage, ...tinyOptions(data, single, "tiny0", gate, bits)]);
    if (r.status !== 0) throw new Error(`distill ${stage} failed: ${r.stderr}`);
  }
}

/** The cluster plan of the tiny run (importing the reference's teacher: squeeze is a copy). */
export function tinyPlan(
  data: string,
  teacher: string,
  run = "tiny0",
  recoverShards = 4,
  relabelShards = 3,
  gate?: string[],
  bits?: string,
) {
  const o = tinyOptions(data, "", run, undefined, bits);
  const keep = (flag: string) => [flag, o[o.indexOf(flag) + 1]];
  return {
    run,
    ipc: 4,
    options: [
      ...["--teacher", teacher],
      ...[
        "--data",
        "--seed",
        "--iterations",
        "--recover-batch",
        "--select-from",
        "--epochs",
        "--threads",
        "--image-bits",
      ].flatMap(keep),
      // the gate's students
      ...["--students", "--student-width", "--student-batch"].flatMap(keep),
      ...(gate ?? ["--no-recover-gate"]),
    ],
    recoverShards,
    relabelShards,
  };
}
