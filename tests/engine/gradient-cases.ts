// The table of gradient checks: every registered rule appears in at least one case.
// float64 wherever ORT's CPU EP has a float64 kernel for the op; float32 otherwise (Conv,
// ConvTranspose, AveragePool, GlobalAveragePool, Erf, InstanceNormalization have none).
import type { GradCase } from "./gradcheck.ts";
import { jensenShannon } from "../../gpu-cluster/autodiff/losses.ts";

const f64 = "float64" as const,
  f32 = "float32" as const;

const unary = (
  op: string,
  dtype: "float64" | "float32" = f64,
  init: "normal" | "positive" = "normal",
  attrs = {},
): GradCase => ({
  name: op,
  ops: [op],
  dtype,
  inputs: [{ shape: [3, 4], init }],
  build: (b, [x]) => b.op1(op, [x], attrs),
});

const gemmCase = (transA: boolean, transB: boolean): GradCase => ({
  name: `Gemm transA=${transA} transB=${transB}`,
  ops: ["Gemm"],
  dtype: f64,
  inputs: [{ shape: transA ? [4, 3] : [3, 4] }, { shape: transB ? [5, 4] : [4, 5] }, { shape: [1, 5] }],
  build: (b, [a, w, c]) => b.gemm(a, w, c, { transA, transB, alpha: 0.7, beta: 1.3 }),
});

export const CASES: GradCase[] = [
  // elementwise, with broadcasting both ways
  {
    name: "Add broadcast",
    ops: ["Add"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }],
    build: (b, [x, y]) => b.add(x, y),
  },
  {
    name: "Sub broadcast",
    ops: ["Sub"],
    dtype: f64,
    inputs: [{ shape: [2, 3] }, { shape: [1, 3] }],
    build: (b, [x, y]) => b.sub(x, y),
  },
  {
    name: "Mul broadcast",
    ops: ["Mul"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [4] }],
    build: (b, [x, y]) => b.mul(x, y),
  },
  {
    name: "Div",
    ops: ["Div"],
    dtype: f64,
    inputs: [{ shape: [2, 3] }, { shape: [2, 3], init: "positive" }],
    build: (b, [x, y]) => b.div(x, y),
  },
  {
    name: "Pow both",
    ops: ["Pow"],
    dtype: f64,
    inputs: [{ shape: [2, 3], init: "positive" }, { shape: [2, 3] }],
    build: (b, [x, p]) => b.pow(x, p),
  },
  {
    name: "Pow constant exponent",
    ops: ["Pow"],
    dtype: f64,
    inputs: [{ shape: [2, 3], init: "positive" }],
    build: (b, [x]) => b.pow(x, b.scalar(2.5, "float64")),
  },
  unary("Neg"),
  unary("Identity"),
  unary("Abs"),
  unary("Reciprocal", f64, "positive"),
  {
    name: "Where",
    ops: ["Where"],
    dtype: f64,
    inputs: [{ shape: [3, 4] }, { shape: [3, 4] }, { shape: [3, 4], wrt: false }],
    build: (b, [x, y, z]) => b.where(b.op1("Greater", [x, z]), x, y),
  },
  {
    name: "Clip",
    ops: ["Clip"],
    dtype: f64,
    inputs: [{ shape: [4, 5] }],
    build: (b, [x]) => b.op1("Clip", [x, b.scalar(-0.6, "float64"), b.scalar(0.7, "float64")]),
  },
  {
    name: "Cast float32 → float64 → float32",
    ops: ["Cast"],
    dtype: f32,
    inputs: [{ shape: [3, 4] }],
    build: (b, [x]) => b.cast(b.exp(b.cast(x, "float64")), "float32"),
  },
  {
    name: "Expand",
    ops: ["Expand"],
    dtype: f64,
    inputs: [{ shape: [3, 1] }],
    build: (b, [x]) => b.op1("Expand", [x, b.ints([2, 3, 4])]),
  },
  // activations
  unary("Relu"),
  unary("LeakyRelu", f64, "normal", { alpha: 0.2 }),
  unary("Sigmoid"),
  unary("Tanh"),
  unary("Exp"),
  unary("Log", f64, "positive"),
  unary("Sqrt", f64, "positive"),
  unary("Erf", f32),
  {
    name: "Softmax axis 1",
    ops: ["Softmax"],
    dtype: f64,
    inputs: [{ shape: [2, 5, 3] }],
    build: (b, [x]) => b.softmax(x, 1),
  },
  {
    // recover's competition term: both arguments differentiated (teacher and student see the same crops)
    name: "Jensen–Shannon of two logit rows at T = 2 (loss composition)",
    ops: ["LogSoftmax", "Exp", "Log", "Clip"],
    dtype: f64,
    inputs: [{ shape: [3, 5] }, { shape: [3, 5] }],
    build: (b, [p, q]) => jensenShannon(b, p, q, 2),
  },
  {
    name: "LogSoftmax",
    ops: ["LogSoftmax"],
    dtype: f64,
    inputs: [{ shape: [3, 4, 5] }],
    build: (b, [x]) => b.logSoftmax(x, -1),
  },
  // products
  {
    name: "MatMul batched broadcast",
    ops: ["MatMul"],
    dtype: f64,
    inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 5] }],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  gemmCase(false, false),
  gemmCase(false, true),
  gemmCase(true, false),
  gemmCase(true, true),
  // convolutions (float32: no float64 kernels in ORT's CPU EP)
  {
    name: "Conv 3x3 pad 1 + bias",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 7, 7] }, { shape: [4, 3, 3, 3] }, { shape: [4] }],
    build: (b, [x, w, bias]) => b.conv(x, w, bias, { pads: [1, 1, 1, 1] }),
  },
  {
    name: "Conv stride 2, groups 2, odd size",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 4, 9, 9] }, { shape: [6, 2, 3, 3] }],
    build: (b, [x, w]) => b.conv(x, w, null, { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }),
  },
  {
    name: "Conv dilation 2, asymmetric pads, stride 2",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [1, 2, 8, 8] }, { shape: [3, 2, 3, 3] }],
    build: (b, [x, w]) => b.conv(x, w, null, { dilations: [2, 2], pads: [2, 1, 1, 2], strides: [2, 1] }),
  },
  {
    name: "Conv stride 1, dilation 2, asymmetric pads",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 7, 6] }, { shape: [4, 3, 3, 2] }],
    build: (b, [x, w]) => b.conv(x, w, null, { dilations: [2, 2], pads: [2, 0, 1, 2] }),
  },
  {
    name: "Conv stride 1, groups 2 (3 outputs per group)",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 4, 5, 5] }, { shape: [6, 2, 3, 3] }, { shape: [6] }],
    build: (b, [x, w, bias]) => b.conv(x, w, bias, { pads: [1, 1, 1, 1], group: 2 }),
  },
  {
    name: "Conv pads wider than the kernel, 1x1",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 4, 4] }, { shape: [2, 3, 1, 1] }],
    build: (b, [x, w]) => b.conv(x, w, null, { pads: [1, 0, 0, 1] }),
  },
  {
    name: "Conv depthwise",
    ops: ["Conv"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 6, 6] }, { shape: [3, 1, 3, 3] }],
    build: (b, [x, w]) => b.conv(x, w, null, { pads: [1, 1, 1, 1], group: 3 }),
  },
  {
    name: "ConvTranspose stride 2 + output_padding + bias",
    ops: ["ConvTranspose"],
    dtype: f32,
    inputs: [{ shape: [2, 4, 5, 5] }, { shape: [4, 3, 3, 3] }, { shape: [3] }],
    build: (b, [x, w, bias]) =>
      b.op1("ConvTranspose", [x, w, bias], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
  },
  {
    name: "ConvTranspose groups 2, dilation 2",
    ops: ["ConvTranspose"],
    dtype: f32,
    inputs: [{ shape: [1, 4, 4, 4] }, { shape: [4, 2, 3, 3] }],
    build: (b, [x, w]) => b.op1("ConvTranspose", [x, w], { group: 2, dilations: [2, 2], pads: [1, 1, 1, 1] }),
  },
  // pooling
  {
    name: "MaxPool 2x2/2",
    ops: ["MaxPool"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 6, 6] }],
    build: (b, [x]) => b.maxPool(x, [2, 2]),
  },
  {
    name: "MaxPool 3x3/2 pad 1 (overlapping)",
    ops: ["MaxPool"],
    dtype: f64,
    inputs: [{ shape: [1, 2, 7, 7] }],
    build: (b, [x]) => b.maxPool(x, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: "MaxPool 2x2/2 odd sizes (rows past the last window)",
    ops: ["MaxPool"],
    dtype: f64,
    inputs: [{ shape: [2, 2, 7, 5] }],
    build: (b, [x]) => b.maxPool(x, [2, 2]),
  },
  {
    name: "MaxPool 1-D 3/2 pad 1,0",
    ops: ["MaxPool"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 9] }],
    build: (b, [x]) => b.maxPool(x, [3], { strides: [2], pads: [1, 0] }),
  },
  {
    name: "MaxPool 2x2/3 (kernel < stride)",
    ops: ["MaxPool"],
    dtype: f64,
    inputs: [{ shape: [1, 2, 8, 8] }],
    build: (b, [x]) => b.maxPool(x, [2, 2], { strides: [3, 3] }),
  },
  {
    name: "AveragePool 2x2/2",
    ops: ["AveragePool"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 6, 6] }],
    build: (b, [x]) => b.averagePool(x, [2, 2]),
  },
  {
    name: "AveragePool 3x3/2 pad 1 exclude pad",
    ops: ["AveragePool"],
    dtype: f32,
    inputs: [{ shape: [1, 2, 7, 7] }],
    build: (b, [x]) => b.averagePool(x, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: "AveragePool 3x3/1 pad 1 include pad",
    ops: ["AveragePool"],
    dtype: f32,
    inputs: [{ shape: [1, 2, 5, 5] }],
    build: (b, [x]) => b.averagePool(x, [3, 3], { strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: true }),
  },
  {
    name: "GlobalAveragePool",
    ops: ["GlobalAveragePool"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 4, 5] }],
    build: (b, [x]) => b.globalAveragePool(x),
  },
  // reductions
  {
    name: "ReduceSum keepdims 0",
    ops: ["ReduceSum"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }],
    build: (b, [x]) => b.reduceSum(x, [1], false),
  },
  {
    name: "ReduceMean two axes",
    ops: ["ReduceMean"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }],
    build: (b, [x]) => b.reduceMean(x, [0, 2], true),
  },
  // Lazy (broadcastable) gradients: a per-channel mean's gradient stays [1, C, 1] through the
  // elementwise rules and is expanded where a rule needs the full shape (here Sigmoid's).
  {
    name: "mean and variance of a Sigmoid (lazy gradients, x·x)",
    ops: ["ReduceMean", "Mul", "Sub", "Sigmoid"],
    dtype: f64,
    inputs: [{ shape: [3, 4, 5] }],
    build: (b, [x]) => {
      const s = b.op1("Sigmoid", [x]);
      const mean = b.reduceMean(s, [0, 2], true);
      const centred = b.sub(s, mean);
      const variance = b.reduceMean(b.mul(centred, centred), [0, 2], false);
      return b.add(
        b.mul(b.reshape(mean, [-1]), variance),
        b.reduceSum(b.mul(s, b.reshape(variance, [1, 4, 1])), [0, 2], false),
      );
    },
  },
  // data movement
  {
    name: "Reshape",
    ops: ["Reshape"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }],
    build: (b, [x]) => b.reshape(x, [6, -1]),
  },
  {
    name: "Flatten axis 2",
    ops: ["Flatten"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4, 2] }],
    build: (b, [x]) => b.flatten(x, 2),
  },
  {
    name: "Squeeze + Unsqueeze",
    ops: ["Squeeze", "Unsqueeze"],
    dtype: f64,
    inputs: [{ shape: [2, 1, 3] }],
    build: (b, [x]) => b.unsqueeze(b.squeeze(x, [1]), [0, 3]),
  },
  {
    name: "Transpose",
    ops: ["Transpose"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }],
    build: (b, [x]) => b.transpose(x, [2, 0, 1]),
  },
  {
    name: "Slice",
    ops: ["Slice"],
    dtype: f64,
    inputs: [{ shape: [4, 6] }],
    build: (b, [x]) => b.slice(x, [1, 2], [3, -1], [0, 1]),
  },
  {
    name: "Concat",
    ops: ["Concat"],
    dtype: f64,
    inputs: [{ shape: [2, 1, 3] }, { shape: [2, 2, 3] }, { shape: [2, 3, 3], wrt: false }],
    build: (b, xs) => b.concat(xs, 1),
  },
  {
    name: "Pad",
    ops: ["Pad"],
    dtype: f64,
    inputs: [{ shape: [2, 3] }],
    build: (b, [x]) => b.pad(x, [1, 0, 2, 1], 0.5),
  },
  // normalisation
  {
    name: "BatchNormalization training mode",
    ops: ["BatchNormalization"],
    dtype: f64,
    inputs: [
      { shape: [4, 3, 2, 2] },
      { shape: [3], init: "positive" },
      { shape: [3] },
      { shape: [3], wrt: false },
      { shape: [3], init: "positive", wrt: false },
    ],
    build: (b, xs) => b.op("BatchNormalization", xs, { training_mode: 1, epsilon: 1e-5, momentum: 0.9 })[0],
  },
  {
    name: "BatchNormalization inference mode (all inputs)",
    ops: ["BatchNormalization"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }, { shape: [3] }, { shape: [3], init: "positive" }],
    build: (b, xs) => b.op1("BatchNormalization", xs, { epsilon: 1e-3 }),
  },
  {
    name: "InstanceNormalization",
    ops: ["InstanceNormalization"],
    dtype: f32,
    inputs: [{ shape: [2, 3, 3, 3] }, { shape: [3], init: "positive" }, { shape: [3] }],
    build: (b, xs) => b.op1("InstanceNormalization", xs, { epsilon: 1e-5 }),
  },
  {
    name: "LayerNormalization last axis",
    ops: ["LayerNormalization"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [4], init: "positive" }, { shape: [4] }],
    build: (b, xs) => b.op1("LayerNormalization", xs, { axis: -1, epsilon: 1e-5 }),
  },
  {
    name: "LayerNormalization axis 1",
    ops: ["LayerNormalization"],
    dtype: f64,
    inputs: [{ shape: [2, 3, 4] }, { shape: [3, 4] }, { shape: [3, 4] }],
    build: (b, xs) => b.op1("LayerNormalization", xs, { axis: 1, epsilon: 1e-5 }),
  },
];
