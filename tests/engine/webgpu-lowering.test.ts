// The WebGPU rewrites (gpu-cluster/graph/webgpu-lowering.ts) against ORT's own kernels on the
// CPU EP: training-mode BatchNormalization (normalised output, both running statistics, and the
// gradients autodiff built from the BN node; NCHW, tokens [N, D, T], a plain [N, C] batch, 5-D)
// and LogSoftmax (values and gradient, on any axis, with large logits).
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../gpu-cluster/graph/builder.ts";
import { lowerForWebGpu } from "../../gpu-cluster/graph/webgpu-lowering.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import { randn } from "./gradcheck.ts";

async function run(shape: number[], momentum: number, lower: boolean, seed: number) {
  const c = shape[1];
  const b = new GraphBuilder("bn");
  const x = b.input("x", "float32", shape);
  const scale = b.input("scale", "float32", [c]);
  const bias = b.input("bias", "float32", [c]);
  const mean = b.input("mean", "float32", [c]);
  const variance = b.input("var", "float32", [c]);
  const [y, runMean, runVar] = b.op(
    "BatchNormalization",
    [x, scale, bias, mean, variance],
    { epsilon: 1e-5, momentum, training_mode: 1 },
    { name: "bn" },
  );
  // A loss that weights every output element differently, so every gradient term matters.
  const w = b.input("w", "float32", shape);
  const loss = b.reduceSum(b.mul(b.mul(y, y), w), [...shape.keys()], false);
  const [dx, dScale, dBias] = gradients(b, loss, [x, scale, bias]);
  for (const [v, n] of [
    [y, "y"],
    [runMean, "run_mean"],
    [runVar, "run_var"],
    [dx, "dx"],
    [dScale, "dscale"],
    [dBias, "dbias"],
  ] as const)
    b.output(v, n);
  const lowered = lower ? (lowerForWebGpu(b.graph).BatchNormalization ?? 0) : 0;
  const ops = new Set(b.graph.nodes.map((n) => n.op));
  const session = await ort.InferenceSession.create(serializeModel(b.graph));
  const n = shape.reduce((p, d) => p * d, 1);
  const t = (data: Float64Array, s: number[]) => new ort.Tensor("float32", Float32Array.from(data), s);
  const out = await session.run({
    x: t(
      randn(n, seed).map((v) => 2 * v + 0.5),
      shape,
    ),
    scale: t(randn(c, seed + 1), [c]),
    bias: t(randn(c, seed + 2), [c]),
    mean: t(randn(c, seed + 3), [c]),
    var: t(
      randn(c, seed + 4).map((v) => 0.5 + Math.abs(v)),
      [c],
    ),
    w: t(randn(n, seed + 5), shape),
  });
  await session.release();
  return { out, lowered, ops };
}

const maxRel = (a: ort.Tensor, b: ort.Tensor) => {
  const p = a.data as Float32Array,
    q = b.data as Float32Array;
  let num = 0,
    den = 0;
  for (let i = 0; i < p.length; i++) {
    num = Math.max(num, Math.abs(p[i] - q[i]));
    den = Math.max(den, Math.abs(q[i]));
  }
  return num / den;
};

describe("training-mode BatchNormalization lowered to plain ops", () => {
  const shapes = [
    [4, 3, 5, 5],
    [3, 6, 7], // tokens: [N, D, T]
    [8, 5],
    [2, 4, 3, 2, 2],
  ];
  shapes.forEach((shape, i) => {
    it(`[${shape}] matches ORT's BatchNormalization kernel`, async () => {
      const momentum = [0.9, 0.5, 0.99, 0.1][i];
      const ref = await run(shape, momentum, false, 10 * i + 1);
      const low = await run(shape, momentum, true, 10 * i + 1);
      expect(low.lowered).toBe(1);
      expect(low.ops.has("BatchNormalization")).toBe(false);
      expect(ref.ops.has("BatchNormalization")).toBe(true);
      for (const k of ["y", "run_mean", "run_var", "dx", "dscale", "dbias"])
        expect(maxRel(low.out[k], ref.out[k]), k).toBeLessThan(1e-5);
    });
  });
});

describe("LogSoftmax lowered to plain ops", () => {
  for (const [shape, axis] of [
    [[4, 10], -1],
    [[3, 5, 4], 1],
  ] as const) {
    it(`[${shape}] axis ${axis}: values and gradient match ORT's LogSoftmax`, async () => {
      const result = async (lower: boolean) => {
        const b = new GraphBuilder("logsoftmax");
        const x = b.input("x", "float32", [...shape]);
        const y = b.logSoftmax(x, axis);
        const w = b.input("w", "float32", [...shape]);
        const [dx] = gradients(b, b.reduceSum(b.mul(y, w), [...shape.keys()], false), [x]);
        b.output(y, "y");
        b.output(dx, "dx");
        const lowered = lower ? lowerForWebGpu(b.graph) : {};
        expect(b.graph.nodes.some((n) => n.op === "LogSoftmax")).toBe(!lower);
        const session = await ort.InferenceSession.create(serializeModel(b.graph));
        const n = shape.reduce((p: number, d: number) => p * d, 1);
        // logits of magnitude up to ~60: without the max shift, Σ exp would lose all precision
        const out = await session.run({
          x: new ort.Tensor("float32", Float32Array.from(randn(n, 3).map((v) => 20 * v)), [...shape]),
          w: new ort.Tensor("float32", Float32Array.from(randn(n, 4)), [...shape]),
        });
        await session.release();
        return { out, lowered };
      };
      const ref = await result(false);
      const low = await result(true);
      expect(low.lowered).toEqual({ LogSoftmax: 1 });
      for (const k of ["y", "dx"]) expect(maxRel(low.out[k], ref.out[k]), k).toBeLessThan(1e-5);
    });
  }
});
