// Convolutions and pooling: output spatial sizes from kernel, strides, pads and dilations.
import type { ShapeRule } from "./context.ts";
import type { ShapeContext } from "./context.ts";
import type { Dim } from "../types.ts";

export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  pads: number[]; // [b1..bn, e1..en]
  dilations: number[];
}

export function windowAttrs(ctx: ShapeContext, kernel: number[]): WindowAttrs {
  const n = kernel.length;
  const autoPad = ctx.string("auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") {
    throw ctx.error("BAD_ATTRIBUTE", `auto_pad=${autoPad} is not supported; export with explicit pads`);
  }
  const strides = ctx.ints("strides", Array(n).fill(1));
  const pads = ctx.ints("pads", Array(2 * n).fill(0));
  const dilations = ctx.ints("dilations", Array(n).fill(1));
  if (strides.length !== n || pads.length !== 2 * n || dilations.length !== n) {
    throw ctx.error("BAD_ATTRIBUTE", `strides/pads/dilations do not match a ${n}-D kernel`);
  }
  return { kernel, strides, pads, dilations };
}

export function windowOutput(ctx: ShapeContext, inDims: readonly Dim[], w: WindowAttrs, ceil = false): Dim[] {
  return inDims.map((d, i) => {
    if (typeof d !== "number") throw ctx.error("BAD_SHAPE", `spatial dims must be static, got '${d}'`);
    const eff = w.dilations[i] * (w.kernel[i] - 1) + 1;
    const span = d + w.pads[i] + w.pads[i + inDims.length] - eff;
    const out = (ceil ? Math.ceil(span / w.strides[i]) : Math.floor(span / w.strides[i])) + 1;
    if (out < 1)
      throw ctx.error(
        "BAD_SHAPE",
        `window of ${w.kernel[i]} (dilation ${w.dilations[i]}) does not fit input size ${d} with pads`,
      );
    return out;
  });
}

const conv: ShapeRule = (ctx) => {
  const x = ctx.input(0),
    w = ctx.input(1);
  if (x.shape.length < 3) throw ctx.error("BAD_SHAPE", `input must be [N, C, ...], got rank ${x.shape.length}`);
  if (w.shape.length !== x.shape.length)
    throw ctx.error("BAD_SHAPE", `weight rank ${w.shape.length} != input rank ${x.shape.length}`);
  const group = ctx.int("group", 1);
  const kernel = w.shape.slice(2) as number[];
  const cIn = x.shape[1];
  if (typeof cIn === "number" && cIn !== (w.shape[1] as number) * group) {
    throw ctx.error("BAD_SHAPE", `input has ${cIn} channels but weight expects ${w.shape[1]} × group ${group}`);
  }
  const out = windowOutput(ctx, x.shape.slice(2), windowAttrs(ctx, kernel));
  return [{ dtype: x.dtype, shape: [x.shape[0], w.shape[0], ...out] }];
};

const convTranspose: ShapeRule = (ctx) => {
  const x = ctx.input(0),
    w = ctx.input(1);
  const group = ctx.int("group", 1);
  const kernel = w.shape.slice(2) as number[];
  const wa = windowAttrs(ctx, kernel);
  const n = kernel.length;
  const outPad = ctx.ints("output_padding", Array(n).fill(0));
  // ONNX allows output_padding < max(stride, dilation); ONNX Runtime refuses ≥ stride at run time.
  outPad.forEach((p, i) => {
    if (p < 0 || p >= wa.strides[i]) {
      throw ctx.error(
        "BAD_ATTRIBUTE",
        `output_padding ${p} on axis ${i} must be in [0, stride ${wa.strides[i]}) (ONNX Runtime's limit)`,
      );
    }
  });
  const explicit = ctx.ints("output_shape", []);
  const spatial = x.shape.slice(2).map((d, i) => {
    if (explicit.length) return explicit[i];
    if (typeof d !== "number") throw ctx.error("BAD_SHAPE", "spatial dims must be static");
    return wa.strides[i] * (d - 1) + outPad[i] + (kernel[i] - 1) * wa.dilations[i] + 1 - wa.pads[i] - wa.pads[i + n];
  });
  if (typeof x.shape[1] === "number" && x.shape[1] !== w.shape[0]) {
    throw ctx.error("BAD_SHAPE", `input has ${x.shape[1]} channels but weight has ${w.shape[0]}`);
  }
  return [{ dtype: x.dtype, shape: [x.shape[0], (w.shape[1] as number) * group, ...spatial] }];
};

const pool: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const kernel = ctx.ints("kernel_shape", []);
  if (kernel.length !== x.shape.length - 2)
    throw ctx.error("BAD_ATTRIBUTE", `kernel_shape must have ${x.shape.length - 2} entries`);
  const out = windowOutput(ctx, x.shape.slice(2), windowAttrs(ctx, kernel), ctx.int("ceil_mode", 0) === 1);
  const shape = [x.shape[0], x.shape[1], ...out];
  const outs = [{ dtype: x.dtype, shape }];
  if (ctx.op === "MaxPool") outs.push({ dtype: "int64", shape });
  return outs;
};

const globalPool: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
};

export const convPoolShapes: Record<string, ShapeRule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
};
