// Reductions: the gradient is broadcast back over the reduced axes — lazily, by broadcasting in
// whatever consumes it (unbroadcast.ts) — and divided by the count for a mean (the count may
// involve the symbolic batch size).
import type { GradRule } from "../rule.ts";
import { reduceAxes } from "../../graph/shapes/reduce.ts";
import { countOver } from "../count.ts";

const reduceGrad =
  (mean: boolean): GradRule =>
  (c) => {
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
