// Reductions (axes as an input from opset 18, or an attribute in older imported models) and ArgMax.
import type { ShapeRule } from "./context.ts";
import { normAxis, type ShapeContext } from "./context.ts";
import type { Dim } from "../types.ts";

/** The reduced axes of a Reduce* node, normalised and sorted. Empty axes reduce all (unless noop). */
export function reduceAxes(ctx: ShapeContext): number[] {
  const rank = ctx.rank(0);
  let axes = ctx.attrs.axes ? ctx.ints("axes", []) : undefined;
  if (!axes && ctx.optionalInput(1)) {
    axes = ctx.constInts(1);
    if (!axes) throw ctx.error("BAD_INPUT", "reduction axes must be a constant");
  }
  if (!axes || axes.length === 0) {
    if (ctx.int("noop_with_empty_axes", 0)) return [];
    return [...Array(rank).keys()];
  }
  return axes.map((a) => normAxis(ctx, a, rank)).sort((p, q) => p - q);
}

const reduce: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axes = new Set(reduceAxes(ctx));
  const keep = ctx.int("keepdims", 1) === 1;
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
};

const argmax: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = normAxis(ctx, ctx.int("axis", 0), x.shape.length);
  const keep = ctx.int("keepdims", 1) === 1;
  const shape = x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d]));
  return [{ dtype: "int64", shape }];
};

export const reduceShapes: Record<string, ShapeRule> = {
  ReduceMean: reduce,
  ReduceSum: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceSumSquare: reduce,
  ReduceProd: reduce,
  ArgMax: argmax,
  ArgMin: argmax,
};
