// Reduces a gradient back to the shape of the input it belongs to. Done once, in the walker, so
// that no rule has to care about broadcasting.
//
// A gradient may stay *smaller* than the value it stands for when it broadcasts to it (a "lazy"
// gradient: the [1, C, 1, 1] gradient of a per-channel mean is the same number at every
// position). The walker keeps such gradients small through broadcasting elementwise rules and
// expands them only where a rule needs the full shape: the gradient of a BN-statistic loss then
// costs one full-size product instead of an Expand, a Neg and a Sum per layer.
//
// So a gradient g comes with the value `full` whose shape it stands for (g broadcasts to it).
// Summing it to an input x's shape, axis by axis (right-aligned, as ONNX broadcasts):
//   x has the axis (size > 1)            → keep g's extent (full, or lazy 1);
//   x lacks it or has size 1, g is full  → ReduceSum over it;
//   x lacks it or has size 1, g is lazy  → the sum of a repeated number: multiply by full's size.
import type { GraphBuilder } from "../graph/builder.ts";
import type { Dim, Shape, Value } from "../graph/types.ts";
import { countOver } from "./count.ts";

const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

/** True when shape g has x's rank and each of its dims is x's or 1 (so g broadcasts to x). */
export function broadcastsTo(g: Shape, x: Shape): boolean {
  return g.length === x.length && g.every((d, i) => d === x[i] || d === 1);
}

/** The gradient at x's full shape (an Expand when it was kept lazy). */
export function expandGrad(b: GraphBuilder, grad: Value, like: Value): Value {
  return sameShape(grad.shape, like.shape) ? grad : b.expandLike(grad, like);
}

/**
 * The gradient of `like`, from `grad` standing for a tensor of `full`'s shape (default: its own).
 * The result has like's rank and broadcasts to it (it may stay lazy); the walker checks that.
 */
export function unbroadcast(b: GraphBuilder, grad: Value, like: Value, full: Value = grad): Value {
  const F = full.shape,
    G = grad.shape,
    X = like.shape;
  if (sameShape(G, X) && sameShape(F, X)) return grad;
  const r = Math.max(F.length, G.length, X.length);
  const at = (s: Shape, i: number): Dim | undefined => s[i - (r - s.length)]; // undefined: axis absent
  const sumAxes: number[] = [],
    countAxes: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = at(X, i),
      g = at(G, i),
      f = at(F, i) ?? g;
    if (x !== undefined && x !== 1) continue;
    if (g !== undefined && g !== 1) sumAxes.push(i - (r - G.length));
    else if (f !== undefined && f !== 1) countAxes.push(i - (r - F.length));
  }
  let out = sumAxes.length ? b.reduceSum(grad, sumAxes, true) : grad;
  if (countAxes.length) out = b.mul(out, countOver(b, full, countAxes));
  // Now every axis x lacks has size 1: drop the extra leading ones, or add x's leading ones.
  const extra = out.shape.length - X.length;
  if (extra > 0) out = b.squeeze(out, [...Array(extra).keys()]);
  if (extra < 0) out = b.unsqueeze(out, [...Array(-extra).keys()]);
  return out;
}
