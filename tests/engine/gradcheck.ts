// Gradient checking against central finite differences. For a graph y = f(x1..xn) we form the
// scalar L = Σ y ⊙ r with a fixed random r, ask autodiff for ∂L/∂xi, and compare the
// directional derivative ⟨∇L, v⟩ along random directions v with (L(x+εv) − L(x−εv)) / 2ε,
// plus a few single coordinates. One ORT session computes L and the gradients.
import * as ort from "onnxruntime-node";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import type { Value } from "../../gpu-cluster/graph/types.ts";

export type Init = "normal" | "positive" | "uniform01";

export interface GradInput {
  shape: number[];
  init?: Init;
  /** Differentiate with respect to this input (default true). */
  wrt?: boolean;
  /** Fixed values instead of random ones (constants such as axes are built in `build`). */
  values?: number[];
}

export interface GradCase {
  /** Operators under test (the coverage test requires every registered rule to appear). */
  ops: string[];
  name: string;
  dtype: "float64" | "float32";
  inputs: GradInput[];
  build: (b: GraphBuilder, xs: Value[]) => Value;
  /** Finite-difference step (default 1e-5 for float64, 1e-2 for float32). */
  eps?: number;
  /** Values of graph inputs that `build` creates itself (model weights, BN buffers). */
  extraInputs?: () => Map<string, { values: ArrayLike<number>; wrt: boolean }>;
}

export interface GradResult {
  maxRelError: number;
  checks: number;
}

/** Deterministic normal samples (Box–Muller over a small LCG), so failures reproduce. */
export function randn(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

function initValues(inp: GradInput, seed: number): Float64Array {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  if (inp.values) return Float64Array.from(inp.values);
  const z = randn(n, seed);
  if (inp.init === "positive") return z.map((v) => 0.5 + Math.abs(v));
  if (inp.init === "uniform01") return z.map((v) => 0.05 + 0.9 / (1 + Math.exp(-v)));
  return z;
}

const toTensor = (dtype: "float32" | "float64", data: Float64Array, shape: number[]) =>
  new ort.Tensor(dtype, dtype === "float32" ? Float32Array.from(data) : Float64Array.from(data), shape);

export async function checkGradient(c: GradCase, seed = 1): Promise<GradResult> {
  const b = new GraphBuilder(c.name);
  const xs = c.inputs.map((inp, i) => b.input(`x${i}`, c.dtype, inp.shape));
  const y = c.build(b, xs);
  // Inputs created inside build (weights of a model) join the checked inputs.
  const extra = c.extraInputs?.() ?? new Map();
  const inputs: GradInput[] = [...c.inputs];
  for (const v of b.graph.inputs.slice(xs.length)) {
    const e = extra.get(v.name);
    if (!e) throw new Error(`no value given for graph input '${v.name}'`);
    xs.push(v);
    inputs.push({ shape: v.shape as number[], values: Array.from(e.values), wrt: e.wrt });
  }
  const yShape = y.shape as number[];
  const r = randn(
    yShape.reduce((p, d) => p * d, 1),
    seed + 101,
  );
  const rv = b.constant(tensor(c.dtype, yShape, r));
  const loss = b.reduceSum(b.mul(y, rv), [...yShape.keys()], false);
  b.output(loss, "loss");
  const wrtIdx = inputs.map((inp, i) => (inp.wrt === false ? -1 : i)).filter((i) => i >= 0);
  const grads = gradients(
    b,
    loss,
    wrtIdx.map((i) => xs[i]),
  );
  grads.forEach((g, k) => b.output(g, `grad${wrtIdx[k]}`));
  const session = await ort.InferenceSession.create(serializeModel(b.graph), { graphOptimizationLevel: "disabled" });

  const base = inputs.map((inp, i) => initValues(inp, seed + 7 * i));
  const evalLoss = async (vals: Float64Array[]): Promise<number> => {
    const feeds: Record<string, ort.Tensor> = {};
    vals.forEach((v, i) => (feeds[xs[i].name] = toTensor(c.dtype, v, inputs[i].shape)));
    const out = await session.run(feeds, ["loss"]);
    return Number((out.loss.data as Float64Array)[0]);
  };
  const feeds: Record<string, ort.Tensor> = {};
  base.forEach((v, i) => (feeds[xs[i].name] = toTensor(c.dtype, v, inputs[i].shape)));
  const out = await session.run(feeds);
  const g = new Map<number, Float64Array>();
  for (const i of wrtIdx) g.set(i, Float64Array.from(out[`grad${i}`].data as Float64Array));

  const eps = c.eps ?? (c.dtype === "float64" ? 1e-5 : 1e-2);
  let maxRel = 0,
    checks = 0;
  const compare = async (dir: Float64Array[]) => {
    let analytic = 0;
    for (const i of wrtIdx) dir[i].forEach((d, j) => (analytic += d * g.get(i)![j]));
    const plus = base.map((v, i) => v.map((x, j) => x + eps * dir[i][j]));
    const minus = base.map((v, i) => v.map((x, j) => x - eps * dir[i][j]));
    const numeric = ((await evalLoss(plus)) - (await evalLoss(minus))) / (2 * eps);
    const scale = Math.max(Math.abs(analytic), Math.abs(numeric), 1);
    maxRel = Math.max(maxRel, Math.abs(analytic - numeric) / scale);
    checks++;
  };
  // Random directions over all differentiated inputs at once, then single coordinates.
  for (let k = 0; k < 3; k++) {
    await compare(
      inputs.map((_, i) =>
        wrtIdx.includes(i) ? randn(base[i].length, seed * 31 + k * 17 + i) : new Float64Array(base[i].length),
      ),
    );
  }
  for (const i of wrtIdx) {
    for (const j of [0, Math.floor(base[i].length / 2), base[i].length - 1]) {
      const dir = base.map((v) => new Float64Array(v.length));
      dir[i][j] = 1;
      await compare(dir);
    }
  }
  await session.release();
  return { maxRelError: maxRel, checks };
}

/** Relative-error bounds. float64 differences are exact to ~1e-9; float32 central
 *  differences with ε = 1e-2 carry ~1e-4 truncation and ~1e-4 rounding error. Whole ReLU
 *  networks in float32 need a smaller step (ε = 3e-4, so that few units cross a ReLU kink)
 *  and then carry more rounding error: measured ≤ 8e-3, bound 3e-2. */
export const TOLERANCE = { float64: 1e-6, float32: 1e-2, float32Model: 3e-2 } as const;
export const MODEL_EPS = 3e-4;
