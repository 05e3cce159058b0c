// PyTorch as a reference (Debian's python3-torch, run by /usr/bin/python3): whether it is
// there, and the fixtures scripts/pytorch-fixtures.py writes into a git-ignored cache folder
// (regenerated when missing or when the script changes; the 224 px model alone is ~45 MB).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GraphBuilder } from "../../gpu-cluster/graph/builder.ts";
import { onnx } from "../../gpu-cluster/graph/onnx-proto.ts";
import { tensorFromProto } from "../../gpu-cluster/graph/onnx-import.ts";
import type { TensorData } from "../../gpu-cluster/graph/types.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";

/** Debian's Python (not a pyenv one on PATH); DISTILL_PYTHON overrides it (e.g. to check the skip path). */
export const PYTHON = process.env.DISTILL_PYTHON ?? "/usr/bin/python3";
export const FIXTURE_SCRIPT = join(process.cwd(), "scripts", "pytorch-fixtures.py");
export const INSTALL_HINT =
  "install Debian's PyTorch: apt-get install python3-torch python3-torchvision (used as /usr/bin/python3)";

/** null when /usr/bin/python3 imports torch and torchvision, else why not. */
export function torchMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const r = spawnSync(PYTHON, ["-c", "import torch, torchvision"], { encoding: "utf8" });
  if (r.status === 0) return null;
  return `${PYTHON} cannot import torch/torchvision (${(r.stderr || r.error?.message || "").trim().split("\n").at(-1)})`;
}

/**
 * How a PyTorch-backed test file behaves without torch: under CI=true it fails (the CI script
 * installs python3-torch), elsewhere it is skipped with the reason printed once.
 */
export function torchGate(what: string): { missing: string | null; failInCi: boolean } {
  const missing = torchMissing();
  const failInCi = missing !== null && process.env.CI === "true";
  if (missing && !failInCi) console.warn(`SKIPPED ${what}: ${missing}; ${INSTALL_HINT}`);
  return { missing, failInCi };
}

export function runPython(args: string[], timeoutMs = 600_000): string {
  return execFileSync(PYTHON, args, { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
}

/** A ReLU or max-pool call (in execution order) with the sites float32 may decide unlike float64. */
export interface UndecidableCall {
  call: number;
  kind: "relu" | "pool";
  /** Flat indices: into the ReLU's input (NCHW), or into the pool's windows (N, C, oh·ow). */
  sites: number[];
  /** ReLU: float64's decision (input > 0) per site. */
  positive?: boolean[];
  /** Max-pool: flat NCHW input indices of each window's largest and second largest value. */
  top?: [number, number][];
}

export type Mode = "recover" | "squeeze";

export interface FixtureMeta {
  case: string;
  classes: number;
  size: number;
  batch: number;
  stem: "small" | "imagenet";
  rBn: number;
  firstBnMultiplier: number;
  sgd: { lr: number; momentum: number; weight_decay: number };
  bnLayers: number;
  targets: number[];
  scalars: Record<string, number>;
  arrays: Record<string, { shape: number[]; offset: number }>;
  params: string[];
  /** The reference precision ("float64"), and PyTorch float32's relative error against it per array. */
  reference: string;
  torch32Error: Record<string, number>;
  /** Per mode: number of ReLU/max-pool calls and the sites float32 may decide unlike float64. */
  branches: Record<Mode, { calls: number; undecidable: UndecidableCall[] }>;
  torch: string;
}

type Array32 = TensorData & { data: Float32Array };

export interface Fixture {
  dir: string;
  meta: FixtureMeta;
  onnxFile: string;
  onnxBytes: Uint8Array;
  array(name: string): Array32;
}

/** The fixtures folder for the current script (its hash names it), generated when missing. */
export function resnetFixtures(): string {
  const hash = createHash("sha256").update(readFileSync(FIXTURE_SCRIPT)).digest("hex").slice(0, 12);
  const root = join(process.cwd(), ".cache", "pytorch-fixtures");
  const dir = join(root, hash);
  if (existsSync(join(dir, "done"))) return dir;
  rmSync(root, { recursive: true, force: true }); // made by older versions of the script
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  runPython([FIXTURE_SCRIPT, "resnet", tmp]);
  writeFileSync(join(tmp, "done"), "");
  renameSync(tmp, dir);
  return dir;
}

/** meta.json and arrays.bin (float32 arrays, offsets in meta.arrays) of a folder. */
export function readArrays<M extends { arrays: FixtureMeta["arrays"] }>(
  dir: string,
): { meta: M; array(name: string): Array32 } {
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as M;
  const bin = readFileSync(join(dir, "arrays.bin"));
  const all = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
  return {
    meta,
    array(n) {
      const a = meta.arrays[n];
      if (!a) throw new Error(`${dir} has no array '${n}'`);
      const size = a.shape.reduce((p, d) => p * d, 1);
      return { dtype: "float32", shape: a.shape, data: all.subarray(a.offset, a.offset + size) };
    },
  };
}

export function loadFixture(dir: string, name: string): Fixture {
  const caseDir = join(dir, name);
  const { meta, array } = readArrays<FixtureMeta>(caseDir);
  const onnxFile = join(caseDir, "model.onnx");
  return { dir: caseDir, meta, onnxFile, onnxBytes: new Uint8Array(readFileSync(onnxFile)), array };
}

/**
 * The model's weights and BN buffers by torchvision name, from the exported ONNX: initializers,
 * and names the exporter made Identity outputs of a shared initializer.
 */
export function paramsFromOnnx(bytes: Uint8Array): ParamStore {
  const g = onnx.ModelProto.decode(bytes).graph!;
  const byName = new Map<string, TensorData>();
  for (const init of g.initializer ?? []) byName.set(init.name!, tensorFromProto(init, init.name!));
  for (const n of g.node ?? []) {
    if (n.opType === "Identity" && byName.has(n.input![0])) byName.set(n.output![0], byName.get(n.input![0])!);
  }
  const params = new ParamStore(0, true);
  for (const [name, t] of byName)
    if (t.dtype === "float32") params.set(name, { ...t, data: (t.data as Float32Array).slice() });
  return params;
}

/** Relative error of `got` against the reference `want`: max|got − want| / max|want|. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let diff = 0,
    scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

export interface Branch {
  kind: "relu" | "pool";
  name: string;
}

/**
 * Graph outputs for every branch our float32 run takes: the input of each Relu and the Indices
 * of each MaxPool (which its gradient rule adds), in node order — the order PyTorch calls them.
 * Call after building the gradients.
 */
export function branchOutputs(b: GraphBuilder): Branch[] {
  const out: Branch[] = [];
  for (const n of b.graph.nodes) {
    if (n.op === "Relu") out.push({ kind: "relu", name: b.output(n.inputs[0]!, `branch_${out.length}`).name });
    else if (n.op === "MaxPool") {
      if (n.outputs.length < 2) throw new Error(`MaxPool ${n.name} has no Indices output: build the gradients first`);
      out.push({ kind: "pool", name: b.output(n.outputs[1], `branch_${out.length}`).name });
    }
  }
  return out;
}

/** The float32-undecidable sites where our run took the other branch than float64: {call: [site]}. */
export function differingBranches(
  f: Fixture,
  mode: Mode,
  ours: Branch[],
  run: Record<string, { data: unknown }>,
): Record<string, number[]> {
  const { calls, undecidable } = f.meta.branches[mode];
  if (ours.length !== calls)
    throw new Error(`our ${mode} graph has ${ours.length} ReLU/MaxPool nodes, PyTorch made ${calls} calls`);
  const flips: Record<string, number[]> = {};
  for (const c of undecidable) {
    const o = ours[c.call];
    if (o.kind !== c.kind) throw new Error(`branch ${c.call}: ours is a ${o.kind}, PyTorch's a ${c.kind}`);
    const data = run[o.name].data as Float32Array | BigInt64Array;
    c.sites.forEach((site, i) => {
      let differs: boolean;
      if (c.kind === "relu") differs = (data as Float32Array)[site] > 0 !== c.positive![i];
      else {
        const idx = Number((data as BigInt64Array)[site]);
        if (idx !== c.top![i][0] && idx !== c.top![i][1])
          throw new Error(
            `max-pool window ${site}: our winner ${idx} is neither of PyTorch's two largest (${c.top![i]})`,
          );
        differs = idx === c.top![i][1];
      }
      if (differs) (flips[c.call] ??= []).push(site);
    });
  }
  return flips;
}

/**
 * The float64 reference of one mode for the branches our run took: the fixture's own when they
 * all agree with float64, else PyTorch re-run with ours (`pytorch-fixtures.py replay`, cached
 * beside the fixture).
 */
export function referenceFor(
  f: Fixture,
  mode: Mode,
  flips: Record<string, number[]>,
): { array(name: string): Array32; scalars: Record<string, number>; flipped: number } {
  const flipped = Object.values(flips).reduce((s, v) => s + v.length, 0);
  if (flipped === 0) return { array: f.array, scalars: f.meta.scalars, flipped };
  const key = createHash("sha256").update(JSON.stringify(flips)).digest("hex").slice(0, 12);
  const dir = join(f.dir, `replay-${mode}-${key}`);
  if (!existsSync(join(dir, "done"))) {
    const flipsFile = `${dir}.json`;
    writeFileSync(flipsFile, JSON.stringify(flips));
    runPython([FIXTURE_SCRIPT, "replay", f.meta.case, mode, flipsFile, dir]);
    writeFileSync(join(dir, "done"), "");
  }
  const r = readArrays<{ arrays: FixtureMeta["arrays"]; scalars: Record<string, number> }>(dir);
  return { array: r.array, scalars: r.meta.scalars, flipped };
}
