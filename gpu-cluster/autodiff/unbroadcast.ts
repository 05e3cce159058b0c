// Reduces a gradient computed at a broadcast shape back to the shape of the input it belongs
// to (sum over leading axes and over axes where the input has size 1). Done once, in the
// walker, so that no rule has to care about broadcasting.
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";

export function unbroadcast(b: GraphBuilder, grad: Value, like: Value): Value {
  const g = grad.shape, x = like.shape;
  if (g.length === x.length && g.every((d, i) => d === x[i])) return grad;
  const lead = g.length - x.length;
  const axes: number[] = [];
  for (let i = 0; i < g.length; i++) {
    if (i < lead) axes.push(i);
    else if (x[i - lead] === 1 && g[i] !== 1) axes.push(i);
  }
  const summed = axes.length ? b.reduceSum(grad, axes, true) : grad;
  if (summed.shape.length === x.length && summed.shape.every((d, i) => d === x[i])) return summed;
  return x.every((d) => typeof d === "number") ? b.reshape(summed, x as number[]) : b.reshapeLike(summed, like);
}
