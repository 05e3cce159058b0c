// Compositions of gradient rules that were wrong while every rule passed on its own (issue 11):
// lazy (broadcastable) gradients meeting broadcast inputs, lower-rank operands, Clip's bounds,
// the extra outputs of LayerNormalization and BatchNormalization. Each case is minimal.
import { describe, expect, it } from "vitest";
import { checkGradient, TOLERANCE, type GradCase } from "./gradcheck.ts";

const f64 = "float64" as const,
  f32 = "float32" as const;

/** ReduceSum(op(x[3], y), axes=[1], keepdims=0): the lower-rank operand x gets a lazy [2, 1]
 *  gradient (it used to end in a Reshape of [1, 1] to [3]: BAD_SHAPE). For Mul and Div, x's
 *  gradient (dy·y, dy/y) stays lazy only when y is [2, 1] too. */
const lowerRank = (op: "Add" | "Sub" | "Mul" | "Div", swap = false): GradCase => {
  const y = op === "Mul" || op === "Div" ? [2, 1] : [2, 3];
  const args = swap ? `y[${y}], x[3]` : `x[3], y[${y}]`;
  return {
    name: `ReduceSum(${op}(${args}), axes=[1], keepdims=0)`,
    ops: [op, "ReduceSum"],
    dtype: f64,
    inputs: [{ shape: [3] }, { shape: y, init: op === "Div" ? "positive" : "normal" }],
    build: (b, [x, yv]) => b.reduceSum(b.op1(op, swap ? [yv, x] : [x, yv]), [1], false),
  };
};

/** LayerNormalization's Mean/InvStdDev are float32 even in a float64 graph: their rounding
 *  (~6e-8 relative) limits the finite differences. ε = 3e-3 balances it against truncation
 *  (measured ≤ 5e-5); the bound stays far below the error of a missing or wrong term (≳ 1e-1). */
const STATS_EPS = 3e-3,
  STATS_TOL = 1e-3;

const CASES: (GradCase & { tol?: number })[] = [
  // The lazy [1, 3] gradient of a keepdims reduction reached b[1, 3] as is: r instead of 2r.
  {
    name: "ReduceSum(Add(x[2,3], b[1,3]), axes=[0], keepdims=1)",
    ops: ["Add", "ReduceSum"],
    dtype: f64,
    inputs: [{ shape: [2, 3] }, { shape: [1, 3] }],
    build: (b, [x, y]) => b.reduceSum(b.add(x, y), [0], true),
  },
  {
    name: "ReduceMean(Add(x[4,3], b[1,3]), axes=[0], keepdims=1)",
    ops: ["Add", "ReduceMean"],
    dtype: f64,
    inputs: [{ shape: [4, 3] }, { shape: [1, 3] }],
    build: (b, [x, y]) => b.reduceMean(b.add(x, y), [0], true),
  },
  {
    name: "ReduceSum(Sub(x[2,3], b[1,3]), axes=[0], keepdims=1)",
    ops: ["Sub", "ReduceSum"],
    dtype: f64,
    inputs: [{ shape: [2, 3] }, { shape: [1, 3] }],
    build: (b, [x, y]) => b.reduceSum(b.sub(x, y), [0], true),
  },
  // Per-channel mean of a convolution plus a bias written as an Add (a BN-statistic loss).
  {
    name: "ReduceMean(Add(Conv(x[2,2,4,4], w[3,2,3,3], pads=1), bias[1,3,1,1]), axes=[0,2,3], keepdims=1)",
    ops: ["Conv", "Add", "ReduceMean"],
    dtype: f32,
    inputs: [{ shape: [2, 2, 4, 4] }, { shape: [3, 2, 3, 3] }, { shape: [1, 3, 1, 1] }],
    build: (b, [x, w, bias]) => b.reduceMean(b.add(b.conv(x, w, null, { pads: [1, 1, 1, 1] }), bias), [0, 2, 3], true),
  },
  lowerRank("Add"),
  lowerRank("Sub"),
  lowerRank("Sub", true),
  lowerRank("Mul"),
  lowerRank("Mul", true),
  lowerRank("Div"),
  // Clip's bounds: ∂L/∂min = Σ dy where x < min, ∂L/∂max = Σ dy where x > max.
  {
    name: "Clip(x[4,5], min, max), bounds differentiated",
    ops: ["Clip"],
    dtype: f64,
    inputs: [{ shape: [4, 5] }, { shape: [], values: [-0.5] }, { shape: [], values: [0.6] }],
    build: (b, [x, lo, hi]) => b.op1("Clip", [x, lo, hi]),
  },
  {
    name: "Clip(x[4,5], min) (no max)",
    ops: ["Clip"],
    dtype: f64,
    inputs: [{ shape: [4, 5] }, { shape: [], values: [-0.3] }],
    build: (b, [x, lo]) => b.op1("Clip", [x, lo]),
  },
  {
    name: "Clip(x[4,5], -, max) (no min)",
    ops: ["Clip"],
    dtype: f64,
    inputs: [{ shape: [4, 5] }, { shape: [], values: [0.2] }],
    build: (b, [x, hi]) => b.op1("Clip", [x, null, hi]),
  },
  {
    name: "Clip(x[4,5], min > max): every element is max",
    ops: ["Clip"],
    dtype: f64,
    inputs: [{ shape: [4, 5] }, { shape: [], values: [0.4] }, { shape: [], values: [-0.4] }],
    build: (b, [x, lo, hi]) => b.op1("Clip", [x, lo, hi]),
  },
  // LayerNormalization's Mean and InvStdDev in the loss (float32 outputs, cast back).
  {
    name: "LayerNormalization(x[2,3,4], axis=-1): Y + Mean + InvStdDev",
    ops: ["LayerNormalization", "Cast"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [4], init: "positive" }, { shape: [4] }],
    eps: STATS_EPS,
    tol: STATS_TOL,
    build: (b, xs) => {
      const [y, mean, invStd] = b.op("LayerNormalization", xs, { axis: -1, epsilon: 1e-5 }, { outputs: 3 });
      return b.add(b.add(y, b.cast(mean, f64)), b.cast(invStd, f64));
    },
  },
  {
    name: "LayerNormalization(x[2,3,4], axis=1): Mean · InvStdDev only (Y unused)",
    ops: ["LayerNormalization", "Cast", "Mul"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [3, 4], init: "positive", wrt: false }],
    eps: STATS_EPS,
    tol: STATS_TOL,
    build: (b, xs) => {
      const [, mean, invStd] = b.op("LayerNormalization", xs, { axis: 1, epsilon: 1e-5 }, { outputs: 3 });
      return b.mul(b.cast(mean, f64), b.cast(invStd, f64));
    },
  },
  {
    name: "LayerNormalization(x[3,4], axis=-1) in float32: Y · InvStdDev + Mean",
    ops: ["LayerNormalization", "Mul", "Add"],
    dtype: f32,
    inputs: [{ shape: [3, 4] }, { shape: [4], init: "positive" }, { shape: [4] }],
    build: (b, xs) => {
      const [y, mean, invStd] = b.op("LayerNormalization", xs, { axis: -1, epsilon: 1e-5 }, { outputs: 3 });
      return b.add(b.mul(y, invStd), mean);
    },
  },
  // BatchNormalization training_mode=1: running = momentum·input + (1 − momentum)·batch statistic.
  {
    name: "BatchNormalization training_mode=1: Y + running mean + running var, all five inputs",
    ops: ["BatchNormalization"],
    dtype: f64,
    inputs: [
      { shape: [4, 3, 2, 2] },
      { shape: [3], init: "positive" },
      { shape: [3] },
      { shape: [3] },
      { shape: [3], init: "positive" },
    ],
    build: (b, xs) => {
      const [y, runMean, runVar] = b.op("BatchNormalization", xs, { training_mode: 1, epsilon: 1e-5, momentum: 0.9 });
      return b.add(y, b.unsqueeze(b.add(runMean, b.mul(runVar, runVar)), [1, 2]));
    },
  },
  {
    name: "BatchNormalization training_mode=1 on [N, C]: running var only (Y unused)",
    ops: ["BatchNormalization"],
    dtype: f64,
    inputs: [
      { shape: [5, 3] },
      { shape: [3], init: "positive", wrt: false },
      { shape: [3], wrt: false },
      { shape: [3], wrt: false },
      { shape: [3], init: "positive" },
    ],
    build: (b, xs) => b.op("BatchNormalization", xs, { training_mode: 1, epsilon: 1e-5, momentum: 0.9 })[2],
  },
];

describe("composite gradients that were wrong (issue 11)", () => {
  for (const c of CASES) {
    it(`${c.name} (${c.dtype})`, async () => {
      const r = await checkGradient(c);
      expect(r.maxRelError, `max relative error ${r.maxRelError}`).toBeLessThan(c.tol ?? TOLERANCE[c.dtype]);
    });
  }
});
