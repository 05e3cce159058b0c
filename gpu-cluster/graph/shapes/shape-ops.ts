// Operators that move data without arithmetic: reshape, transpose, slice, concat, pad, ...
import type { ShapeRule } from "./context.ts";
import { normAxis, type ShapeContext } from "./context.ts";
import type { Dim } from "../types.ts";

const staticProduct = (dims: readonly Dim[]): number =>
  dims.reduce<number>((p, d) => (typeof d === "number" ? p * d : p), 1);
const symbols = (dims: readonly Dim[]): string[] => dims.filter((d): d is string => typeof d === "string").sort();
const productSymbol = (syms: readonly string[], factor: number): string =>
  [...syms, ...(factor === 1 ? [] : [String(factor)])].join("*");

/** Reshape's output shape, keeping a symbolic batch where it is determined. */
export function reshapeTarget(ctx: ShapeContext, input: readonly Dim[], target: readonly Dim[]): Dim[] {
  const out = target.map((d, i) => (d === 0 ? input[i] : d));
  const inferAt = out.indexOf(-1);
  const known = out.filter((d) => d !== -1);
  if (inferAt < 0) {
    const sameSyms = symbols(input).join() === symbols(known).join();
    if (sameSyms && staticProduct(input) !== staticProduct(known)) {
      throw ctx.error("BAD_SHAPE", `cannot reshape [${input.join(", ")}] to [${target.join(", ")}]: sizes differ`);
    }
    return out;
  }
  const inSyms = symbols(input),
    outSyms = symbols(known);
  const missing = inSyms.filter((s) => !outSyms.includes(s));
  const ratio = staticProduct(input) / staticProduct(known);
  if (missing.length === 0 && inSyms.length === outSyms.length) {
    if (!Number.isInteger(ratio))
      throw ctx.error("BAD_SHAPE", `cannot reshape [${input.join(", ")}] to [${target.join(", ")}]`);
    out[inferAt] = ratio;
  } else if (missing.length === 1 && ratio === 1) {
    out[inferAt] = missing[0];
  } else if (outSyms.every((x) => inSyms.includes(x)) && Number.isInteger(ratio) && ratio > 0) {
    // A product of symbols and a number ("N*49"): equal products get equal names, so that two
    // values flattened the same way still match in Gemm/MatMul/elementwise shape checks.
    out[inferAt] = productSymbol(missing, ratio);
  } else {
    out[inferAt] = `${ctx.node}:dim${inferAt}`;
  }
  return out;
}

const reshape: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.shapeValue(1);
  if (!target) throw ctx.error("BAD_INPUT", "Reshape's shape must be a constant or Shape(x)");
  return [{ dtype: x.dtype, shape: reshapeTarget(ctx, x.shape, target) }];
};

const flatten: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = ctx.int("axis", 1);
  const a = axis < 0 ? axis + x.shape.length : axis;
  const outer = x.shape.slice(0, a),
    inner = x.shape.slice(a);
  const dim = (ds: Dim[]): Dim =>
    ds.every((d) => typeof d === "number")
      ? staticProduct(ds)
      : ds.length === 1
        ? ds[0]
        : productSymbol(symbols(ds), staticProduct(ds));
  return [{ dtype: x.dtype, shape: [dim(outer), dim(inner)] }];
};

const transpose: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const perm = ctx.ints("perm", [...x.shape.keys()].reverse());
  if (perm.length !== x.shape.length || new Set(perm).size !== perm.length)
    throw ctx.error("BAD_ATTRIBUTE", `perm [${perm}] is not a permutation of rank ${x.shape.length}`);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
};

export interface SliceSpec {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/** Resolved Slice bounds, clamped like ONNX does (needs static sizes on sliced axes). */
export function sliceSpec(ctx: ShapeContext): SliceSpec {
  const x = ctx.input(0);
  const starts = ctx.constInts(1),
    ends = ctx.constInts(2);
  if (!starts || !ends) throw ctx.error("BAD_INPUT", "Slice starts/ends must be constants");
  const axes = (ctx.optionalInput(3) ? ctx.constInts(3) : undefined) ?? starts.map((_, i) => i);
  const steps = (ctx.optionalInput(4) ? ctx.constInts(4) : undefined) ?? starts.map(() => 1);
  const spec: SliceSpec = { starts: [], ends: [], axes: [], steps };
  axes.forEach((ax, i) => {
    const a = normAxis(ctx, ax, x.shape.length);
    const d = x.shape[a];
    if (typeof d !== "number") throw ctx.error("BAD_SHAPE", `cannot slice symbolic axis ${a}`);
    const step = steps[i];
    if (step === 0) throw ctx.error("BAD_ATTRIBUTE", "Slice step 0");
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
    } else {
      s = clamp(s, 0, d - 1);
      e = clamp(e, -1, d - 1);
    }
    spec.starts.push(s);
    spec.ends.push(e);
    spec.axes.push(a);
  });
  return spec;
}

const slice: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const spec = sliceSpec(ctx);
  const shape = [...x.shape];
  spec.axes.forEach((a, i) => {
    const n = Math.ceil((spec.ends[i] - spec.starts[i]) / spec.steps[i]);
    shape[a] = Math.max(0, n);
  });
  return [{ dtype: x.dtype, shape }];
};

const concat: ShapeRule = (ctx) => {
  const first = ctx.input(0);
  const axis = normAxis(ctx, ctx.int("axis", 0), first.shape.length);
  let total: Dim = 0;
  for (const v of ctx.inputs) {
    if (!v) continue;
    if (v.shape.length !== first.shape.length) throw ctx.error("BAD_SHAPE", "Concat inputs differ in rank");
    v.shape.forEach((d, i) => {
      if (i !== axis && d !== first.shape[i])
        throw ctx.error("BAD_SHAPE", `Concat inputs differ on axis ${i}: ${d} vs ${first.shape[i]}`);
    });
    const d = v.shape[axis];
    total = typeof total === "number" && typeof d === "number" ? total + d : `${ctx.node}:concat`;
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return [{ dtype: first.dtype, shape }];
};

/** Pad amounts per axis [begin..., end...] over all axes (the optional axes input expanded). */
export function padAmounts(ctx: ShapeContext): number[] {
  const rank = ctx.rank(0);
  const pads = ctx.constInts(1);
  if (!pads) throw ctx.error("BAD_INPUT", "Pad amounts must be a constant");
  const axes = ctx.optionalInput(3) ? ctx.constInts(3) : undefined;
  if (!axes) {
    if (pads.length !== 2 * rank) throw ctx.error("BAD_INPUT", `Pad needs ${2 * rank} amounts, got ${pads.length}`);
    return pads;
  }
  const full = Array(2 * rank).fill(0);
  axes.forEach((ax, i) => {
    const a = normAxis(ctx, ax, rank);
    full[a] = pads[i];
    full[a + rank] = pads[i + axes.length];
  });
  return full;
}

const pad: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const pads = padAmounts(ctx);
  const r = x.shape.length;
  const shape = x.shape.map((d, i) => {
    if (pads[i] === 0 && pads[i + r] === 0) return d;
    if (typeof d !== "number") throw ctx.error("BAD_SHAPE", `cannot pad symbolic axis ${i}`);
    return d + pads[i] + pads[i + r];
  });
  return [{ dtype: x.dtype, shape }];
};

const axesOf = (ctx: ShapeContext): number[] | undefined =>
  ctx.attrs.axes ? ctx.ints("axes", []) : ctx.optionalInput(1) ? ctx.constInts(1) : undefined;

const squeeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const raw = axesOf(ctx);
  const axes = raw ? raw.map((a) => normAxis(ctx, a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes)
    if (x.shape[a] !== 1) throw ctx.error("BAD_SHAPE", `cannot squeeze axis ${a} of size ${x.shape[a]}`);
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
};

const unsqueeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const raw = axesOf(ctx);
  if (!raw) throw ctx.error("BAD_INPUT", "Unsqueeze axes must be a constant");
  const rank = x.shape.length + raw.length;
  const axes = raw.map((a) => normAxis(ctx, a, rank));
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
  return [{ dtype: x.dtype, shape }];
};

const expand: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.shapeValue(1);
  if (!target) throw ctx.error("BAD_INPUT", "Expand's shape must be a constant or Shape(x)");
  const rank = Math.max(target.length, x.shape.length);
  const shape: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = x.shape[i - rank + x.shape.length] ?? 1,
      b = target[i - rank + target.length] ?? 1;
    if (a !== 1 && b !== 1 && a !== b)
      throw ctx.error("BAD_SHAPE", `cannot expand [${x.shape.join(", ")}] to [${target.join(", ")}]`);
    shape.push(a === 1 ? b : a);
  }
  return [{ dtype: x.dtype, shape }];
};

const split: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = normAxis(ctx, ctx.int("axis", 0), x.shape.length);
  const sizes = ctx.optionalInput(1) ? ctx.constInts(1) : undefined;
  const n = ctx.int("num_outputs", sizes?.length ?? 0);
  const d = x.shape[axis];
  if (typeof d !== "number") throw ctx.error("BAD_SHAPE", "cannot split a symbolic axis");
  const parts =
    sizes ??
    Array(n)
      .fill(Math.ceil(d / n))
      .map((s, i) => Math.min(s, d - i * s));
  if (parts.reduce((a, b) => a + b, 0) !== d)
    throw ctx.error("BAD_INPUT", `split sizes [${parts}] do not add up to ${d}`);
  return parts.map((p) => ({ dtype: x.dtype, shape: x.shape.map((e, i) => (i === axis ? p : e)) }));
};

const gather: ShapeRule = (ctx) => {
  const x = ctx.input(0),
    idx = ctx.input(1);
  const axis = normAxis(ctx, ctx.int("axis", 0), x.shape.length);
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
};

const constant: ShapeRule = (ctx) => {
  const a = ctx.attrs.value;
  if (!a || a.kind !== "tensor") throw ctx.error("BAD_ATTRIBUTE", "Constant needs a tensor 'value' attribute");
  return [{ dtype: a.value.dtype, shape: [...a.value.shape] }];
};

const constantOfShape: ShapeRule = (ctx) => {
  const target = ctx.shapeValue(0);
  if (!target) throw ctx.error("BAD_INPUT", "ConstantOfShape's shape must be a constant or Shape(x)");
  const a = ctx.attrs.value;
  return [{ dtype: a && a.kind === "tensor" ? a.value.dtype : "float32", shape: target }];
};

export const shapeOpShapes: Record<string, ShapeRule> = {
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Slice: slice,
  Concat: concat,
  Pad: pad,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Expand: expand,
  Split: split,
  Gather: gather,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Shape: (ctx) => [{ dtype: "int64", shape: [ctx.rank(0)] }],
  ScatterElements: (ctx) => [{ dtype: ctx.input(0).dtype, shape: [...ctx.input(0).shape] }],
};
