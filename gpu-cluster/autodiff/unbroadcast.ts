// Reduces a gradient computed at a broadcast shape back to the shape of the input it belongs
// to (sum over leading axes and over axes where the input has size 1). Done once, in the
// walker, so that no rule has to care about broadcasting.
//
// The other way round, a gradient may stay *smaller* than its value when it broadcasts to it
// (a "lazy" gradient: the [1, C, 1, 1] gradient of a per-channel mean is the same number at
// every position). The walker keeps such gradients small through broadcasting elementwise
// rules and expands them only where a rule needs the full shape: the gradient of a BN-statistic
// loss then costs one full-size product instead of an Expand, a Neg and a Sum per layer.
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";

const sameShape = (a: Value, b: Value) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** True when `g` has x's rank and each of its dims is x's or 1 (so g broadcasts to x). */
function broadcastsTo(g: Value, x: Value): boolean {
  return g.shape.length === x.shape.length && g.shape.every((d, i) => d === x.shape[i] || d === 1);
}

/** The gradient at x's full shape (an Expand when it was kept lazy). */
export function expandGrad(b: GraphBuilder, grad: Value, like: Value): Value {
  return sameShape(grad, like) ? grad : b.expandLike(grad, like);
}

export function unbroadcast(b: GraphBuilder, grad: Value, like: Value): Value {
  if (sameShape(grad, like)) return grad;
  const g = grad.shape, x = like.shape;
  const lead = g.length - x.length;
  const axes: number[] = [];
  for (let i = 0; i < g.length; i++) {
    if (i < lead) axes.push(i);
    else if (x[i - lead] === 1 && g[i] !== 1) axes.push(i);
  }
  const summed = axes.length ? b.reduceSum(grad, axes, true) : grad;
  if (broadcastsTo(summed, like)) return summed; // equal, or kept lazy
  return x.every((d) => typeof d === "number") ? b.reshape(summed, x as number[]) : b.reshapeLike(summed, like);
}
