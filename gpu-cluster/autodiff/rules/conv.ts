// Convolution and transposed convolution. The input gradient of a convolution is the
// transposed convolution with the same weight (and vice versa); the weight gradient is itself
// a convolution: the input correlated with the output gradient, with the roles of batch and
// channels swapped and stride and dilation exchanged.
import type { GradContext, GradRule } from "../rule.ts";
import type { GraphBuilder } from "../../graph/builder.ts";
import type { Value } from "../../graph/types.ts";
import { windowAttrs, type WindowAttrs } from "../../graph/shapes/conv-pool.ts";

interface ConvAttrs extends WindowAttrs { group: number }

function convAttrs(c: GradContext): ConvAttrs {
  const kernel = c.x(1).shape.slice(2) as number[];
  return { ...windowAttrs(c.attrs, kernel), group: c.attrs.int("group", 1) };
}

/**
 * ∂L/∂W for y = conv(x, W): dW[m, c, i, j] = Σ_n Σ_pq dY[n, m, p, q] · x[n, c, p·s + i·d − pad].
 * Computed as one Conv whose batch axis is the input channel (per group), whose channels are
 * the batch, and whose kernel is dY, with strides = forward dilations, dilations = forward strides.
 * `kernelShape` is W's shape; extra rows the correlation yields past the kernel are sliced off.
 */
export function convWeightGrad(b: GraphBuilder, x: Value, dY: Value, kernelShape: readonly number[], a: ConvAttrs): Value {
  const g = a.group;
  const rank = x.shape.length;
  const spatial = [...Array(rank - 2).keys()].map((i) => i + 2);
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
  const corr = b.conv(xt, dyt, null, { strides: a.dilations, dilations: a.strides, pads: a.pads, group: g }, "weight_grad");
  // corr: [Cg, M, k'...] → [M, Cg, k'...]
  let dW = b.transpose(corr, [1, 0, ...spatial]);
  const k = kernelShape.slice(2);
  const got = dW.shape.slice(2) as number[];
  if (got.some((d, i) => d !== k[i])) dW = b.slice(dW, k.map(() => 0), k, spatial);
  return dW;
}

function convTranspose(b: GraphBuilder, dY: Value, w: Value, a: ConvAttrs, outSpatial: readonly number[]): Value {
  // Output padding makes the transposed convolution land exactly on x's spatial size.
  const inSpatial = dY.shape.slice(2) as number[];
  const outputPadding = outSpatial.map((target, i) => {
    const base = a.strides[i] * (inSpatial[i] - 1) + (a.kernel[i] - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[i + inSpatial.length];
    return target - base;
  });
  return b.op1("ConvTranspose", [dY, w], {
    strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.group, output_padding: outputPadding,
  }, "input_grad");
}

export const convRules: Record<string, GradRule> = {
  Conv: (c) => {
    const a = convAttrs(c);
    const x = c.x(0), w = c.x(1), dY = c.dy;
    const spatialAxes = [...Array(x.shape.length - 2).keys()].map((i) => i + 2);
    return [
      c.need(0) ? convTranspose(c.b, dY, w, a, x.shape.slice(2) as number[]) : null,
      c.need(1) ? convWeightGrad(c.b, x, dY, w.shape as number[], a) : null,
      // dBias = Σ over batch and space
      c.need(2) ? c.b.reduceSum(dY, [0, ...spatialAxes], false) : null,
    ];
  },
  ConvTranspose: (c) => {
    const a = convAttrs(c);
    const x = c.x(0), w = c.x(1), dY = c.dy;
    const spatialAxes = [...Array(x.shape.length - 2).keys()].map((i) => i + 2);
    return [
      // The adjoint of a transposed convolution is the convolution with the same weight.
      c.need(0) ? c.b.conv(dY, w, null, { strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.group }, "input_grad") : null,
      // Same correlation as Conv's weight gradient with the roles of x and dY exchanged.
      c.need(1) ? convWeightGrad(c.b, dY, x, w.shape as number[], a) : null,
      c.need(2) ? c.b.reduceSum(dY, [0, ...spatialAxes], false) : null,
    ];
  },
};
