// Reductions: the gradient is broadcast back over the reduced axes — lazily, by broadcasting in
// whatever consumes it (unbroadcast.ts) — and divided by the count for a mean (the count may
// involve the symbolic batch size).
import type { GradRule } from "../rule.ts";
import type { GraphBuilder } from "../../graph/builder.ts";
import type { Value } from "../../graph/types.ts";
import { reduceAxes } from "../../graph/shapes/reduce.ts";

/** Number of elements over `axes` of x as a scalar of x's dtype (a constant when static). */
export function countOver(b: GraphBuilder, x: Value, axes: readonly number[]): Value {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === "number")) return b.scalar((dims as number[]).reduce((p, d) => p * d, 1), x.dtype);
  const sizes = b.op1("Gather", [b.shapeOf(x), b.ints(axes)], { axis: 0 });
  return b.cast(b.op1("ReduceProd", [sizes, b.ints([0])], { keepdims: 0 }), x.dtype);
}

const reduceGrad = (mean: boolean): GradRule => (c) => {
  const { b } = c;
  const x = c.x(0);
  const axes = reduceAxes(c.attrs);
  let dy = c.dy;
  if (c.attrs.int("keepdims", 1) === 0 && axes.length) dy = b.unsqueeze(dy, axes);
  if (mean) dy = b.div(dy, countOver(b, x, axes));
  // Left at the keepdims shape: the walker expands it only where a rule needs x's full shape.
  return [dy, null];
};

export const reduceRules: Record<string, GradRule> = {
  ReduceSum: reduceGrad(false),
  ReduceMean: reduceGrad(true),
};
