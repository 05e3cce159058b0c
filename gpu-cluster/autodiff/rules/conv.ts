// Convolution and transposed convolution, written so that ORT's fast kernels do the work:
// - ∂L/∂x of a stride-1 convolution is itself a convolution of dY with the weight flipped in
//   space and transposed in channels (ORT runs it with its blocked NCHWc kernels, several times
//   faster than its ConvTranspose); strided convolutions use ConvTranspose, their adjoint.
// - ∂L/∂W is one large matrix product: dY (as [M, N·Ho·Wo]) times the im2col matrix of x (the
//   k·k shifted, strided views of the padded input, stacked as [k·k·C, N·Ho·Wo]). Grouped
//   convolutions fall back to a Conv with batch and channels exchanged.
import type { GradContext, GradRule } from "../rule.ts";
import type { GraphBuilder } from "../../graph/builder.ts";
import type { Value } from "../../graph/types.ts";
import { windowAttrs, type WindowAttrs } from "../../graph/shapes/conv-pool.ts";

interface ConvAttrs extends WindowAttrs {
  group: number;
}

const INT64_MIN = -(2 ** 53); // "to the start" for a negative-step Slice (clamped by ORT)

function convAttrs(c: GradContext): ConvAttrs {
  const kernel = c.x(1).shape.slice(2) as number[];
  return { ...windowAttrs(c.attrs, kernel), group: c.attrs.int("group", 1) };
}

const spatialAxesOf = (rank: number) => [...Array(rank - 2).keys()].map((i) => i + 2);

/**
 * ∂L/∂W for y = conv(x, W): dW[m, c, i, j] = Σ_n Σ_pq dY[n, m, p, q] · x_pad[n, c, p·s + i·d, q·s + j·d].
 * For one group: im2col of x with Slice/Concat, then one Gemm. For several groups: one Conv whose
 * batch axis is the input channel, whose channels are the batch, and whose kernel is dY.
 * `kernelShape` is W's shape.
 */
export function convWeightGrad(
  b: GraphBuilder,
  x: Value,
  dY: Value,
  kernelShape: readonly number[],
  a: ConvAttrs,
): Value {
  const staticSpatial =
    x.shape.slice(2).every((d) => typeof d === "number") && dY.shape.slice(2).every((d) => typeof d === "number");
  if (a.group === 1 && staticSpatial) return convWeightGradIm2col(b, x, dY, kernelShape, a);
  return convWeightGradByConv(b, x, dY, kernelShape, a);
}

function convWeightGradIm2col(
  b: GraphBuilder,
  x: Value,
  dY: Value,
  kernelShape: readonly number[],
  a: ConvAttrs,
): Value {
  const rank = x.shape.length,
    nd = rank - 2;
  const spatial = spatialAxesOf(rank);
  const [M, C] = [kernelShape[0], kernelShape[1]];
  const k = kernelShape.slice(2);
  const outSp = dY.shape.slice(2) as number[];
  // Channels last ([N, ...spatial, C]): every tap's view is then a copy of long contiguous runs.
  const last = [0, ...spatial, 1];
  let xl = b.transpose(x, last);
  if (a.pads.some((p) => p !== 0)) xl = b.pad(xl, [0, ...a.pads.slice(0, nd), 0, 0, ...a.pads.slice(nd), 0]);
  const viewAxes = spatial.map((s) => s - 1);
  const dy2 = b.reshape(b.transpose(dY, [1, 0, ...spatial]), [M, -1]); // [M, N·out]
  const taps: number[][] = [[]];
  for (const kd of k)
    taps.splice(0, taps.length, ...taps.flatMap((t) => Array.from({ length: kd }, (_, i) => [...t, i])));
  // dW[:, :, tap] = dY₂ · view(tap), view(tap) = x[n, o·s + tap·d, c] as [N·out, C]
  const perTap = taps.map((t) => {
    const starts = t.map((i, ax) => i * a.dilations[ax]);
    const ends = starts.map((st, ax) => st + a.strides[ax] * (outSp[ax] - 1) + 1);
    const whole = starts.every((st, ax) => st === 0 && a.strides[ax] === 1 && ends[ax] === xl.shape[ax + 1]);
    const view = whole ? xl : b.slice(xl, starts, ends, viewAxes, a.strides);
    return b.gemm(dy2, b.reshape(view, [-1, C]), null); // [M, C]
  });
  if (taps.length === 1) return b.reshape(perTap[0], [...kernelShape]);
  // [M, taps·C] → [M, taps..., C] → [M, C, taps...]
  const stacked = b.reshape(b.concat(perTap, 1), [M, ...k, C]);
  return b.transpose(stacked, [0, nd + 1, ...[...Array(nd).keys()].map((i) => i + 1)]);
}

function convWeightGradByConv(
  b: GraphBuilder,
  x: Value,
  dY: Value,
  kernelShape: readonly number[],
  a: ConvAttrs,
): Value {
  const g = a.group;
  const rank = x.shape.length;
  const spatial = spatialAxesOf(rank);
  const cIn = x.shape[1] as number;
  const cg = cIn / g;
  let xt: Value;
  if (g === 1) xt = b.transpose(x, [1, 0, ...spatial]);
  else {
    // [N, C, ...] → [N, g, Cg, ...] → [Cg, g, N, ...] → [Cg, g·N, ...]
    const xs = b.reshape(x, [0, g, cg, ...(x.shape.slice(2) as number[])]);
    const xp = b.transpose(xs, [2, 1, 0, ...spatial.map((s) => s + 1)]);
    xt = b.reshape(xp, [cg, -1, ...(x.shape.slice(2) as number[])]);
  }
  const dyt = b.transpose(dY, [1, 0, ...spatial]); // [M, N, ...]
  const corr = b.conv(
    xt,
    dyt,
    null,
    { strides: a.dilations, dilations: a.strides, pads: a.pads, group: g },
    "weight_grad",
  );
  // corr: [Cg, M, k'...] → [M, Cg, k'...]; extra rows the correlation yields past the kernel are sliced off
  let dW = b.transpose(corr, [1, 0, ...spatial]);
  const k = kernelShape.slice(2);
  const got = dW.shape.slice(2) as number[];
  if (got.some((d, i) => d !== k[i]))
    dW = b.slice(
      dW,
      k.map(() => 0),
      k,
      spatial,
    );
  return dW;
}

/**
 * ∂L/∂x for y = conv(x, W) with unit strides: conv(dY, W′) with W′ the weight flipped in space
 * and with input/output channels exchanged (per group), and pads d·(k−1) − p on each side.
 * Returns null when a pad would be negative (then the caller uses ConvTranspose).
 */
function convInputGradByConv(b: GraphBuilder, dY: Value, w: Value, a: ConvAttrs): Value | null {
  const nd = a.kernel.length;
  const pads = [...Array(2 * nd).keys()].map((i) => a.dilations[i % nd] * (a.kernel[i % nd] - 1) - a.pads[i]);
  if (pads.some((p) => p < 0)) return null;
  const spatial = spatialAxesOf(nd + 2);
  const [M, Cg] = w.shape as number[];
  const g = a.group,
    Mg = M / g;
  // [M, Cg, k...] = [g, Mg, Cg, k...] → [g, Cg, Mg, k...] → [g·Cg, Mg, k...]
  const swapped =
    g === 1
      ? b.transpose(w, [1, 0, ...spatial])
      : b.reshape(b.transpose(b.reshape(w, [g, Mg, Cg, ...a.kernel]), [0, 2, 1, ...spatial.map((s) => s + 1)]), [
          g * Cg,
          Mg,
          ...a.kernel,
        ]);
  const flipped = b.slice(
    swapped,
    a.kernel.map(() => -1),
    a.kernel.map(() => INT64_MIN),
    spatial,
    a.kernel.map(() => -1),
  );
  return b.conv(
    dY,
    flipped,
    null,
    { strides: a.kernel.map(() => 1), pads, dilations: a.dilations, group: g },
    "input_grad",
  );
}

function convTranspose(b: GraphBuilder, dY: Value, w: Value, a: ConvAttrs, outSpatial: readonly number[]): Value {
  // Output padding makes the transposed convolution land exactly on x's spatial size.
  const inSpatial = dY.shape.slice(2) as number[];
  const outputPadding = outSpatial.map((target, i) => {
    const base =
      a.strides[i] * (inSpatial[i] - 1) +
      (a.kernel[i] - 1) * a.dilations[i] +
      1 -
      a.pads[i] -
      a.pads[i + inSpatial.length];
    return target - base;
  });
  return b.op1(
    "ConvTranspose",
    [dY, w],
    {
      strides: a.strides,
      pads: a.pads,
      dilations: a.dilations,
      group: a.group,
      output_padding: outputPadding,
    },
    "input_grad",
  );
}

/** Below this many input channels per group (an image's 1 or 3), the flipped Conv has too few
 * output channels for ORT's blocked kernels and ConvTranspose is faster. */
const MIN_CHANNELS_FOR_CONV_INPUT_GRAD = 8;

function convInputGrad(b: GraphBuilder, dY: Value, w: Value, a: ConvAttrs, outSpatial: readonly number[]): Value {
  const wide = (w.shape[1] as number) * a.group >= MIN_CHANNELS_FOR_CONV_INPUT_GRAD;
  const byConv = wide && a.strides.every((s) => s === 1) ? convInputGradByConv(b, dY, w, a) : null;
  return byConv ?? convTranspose(b, dY, w, a, outSpatial);
}

export const convRules: Record<string, GradRule> = {
  Conv: (c) => {
    const a = convAttrs(c);
    const x = c.x(0),
      w = c.x(1),
      dY = c.dy;
    return [
      c.need(0) ? convInputGrad(c.b, dY, w, a, x.shape.slice(2) as number[]) : null,
      c.need(1) ? convWeightGrad(c.b, x, dY, w.shape as number[], a) : null,
      // dBias = Σ over batch and space
      c.need(2) ? c.b.reduceSum(dY, [0, ...spatialAxesOf(x.shape.length)], false) : null,
    ];
  },
  ConvTranspose: (c) => {
    const a = convAttrs(c);
    const x = c.x(0),
      w = c.x(1),
      dY = c.dy;
    return [
      // The adjoint of a transposed convolution is the convolution with the same weight.
      c.need(0)
        ? c.b.conv(
            dY,
            w,
            null,
            { strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.group },
            "input_grad",
          )
        : null,
      // Same correlation as Conv's weight gradient with the roles of x and dY exchanged.
      c.need(1) ? convWeightGrad(c.b, dY, x, w.shape as number[], a) : null,
      c.need(2) ? c.b.reduceSum(dY, [0, ...spatialAxesOf(x.shape.length)], false) : null,
    ];
  },
};
