// Arithmetic with broadcasting. Rules return gradients standing for the output's shape (the
// walker reduces them to each input's shape; see unbroadcast.ts).
import type { GradRule } from "../rule.ts";
import { unbroadcast } from "../unbroadcast.ts";

export const elementwiseRules: Record<string, GradRule> = {
  Identity: (c) => [c.dy],
  // d(a+b) = da + db
  Add: (c) => [c.dy, c.dy],
  // d(a-b) = da - db
  // (b's gradient is reduced to b's shape before it is negated: a per-channel Neg, not a full one)
  Sub: (c) => [c.dy, c.need(1) ? c.exact(c.b.neg(unbroadcast(c.b, c.dy, c.x(1), c.y()))) : null],
  Neg: (c) => [c.b.neg(c.dy)],
  // d(ab) = b da + a db
  // d(a·a) = 2a da in one product (the walker would otherwise build two and add them).
  Mul: (c) =>
    c.x(0) === c.x(1)
      ? [c.b.mul(c.b.scale(c.dy, 2), c.x(0)), null]
      : [c.need(0) ? c.b.mul(c.dy, c.x(1)) : null, c.need(1) ? c.b.mul(c.dy, c.x(0)) : null],
  // d(a/b) = da / b − (a/b²) db = da / b − y/b db
  Div: (c) => [
    c.need(0) ? c.b.div(c.dy, c.x(1)) : null,
    c.need(1) ? c.b.neg(c.b.div(c.b.mul(c.dy, c.y()), c.x(1))) : null,
  ],
  // d(a^p) = p a^(p−1) da + a^p ln(a) dp
  Pow: (c) => {
    const { b } = c;
    const a = c.x(0),
      p = c.x(1);
    return [
      c.need(0) ? b.mul(c.dy, b.mul(p, b.pow(a, b.sub(p, b.scalar(1, p.dtype))))) : null,
      c.need(1) ? b.mul(c.dy, b.mul(c.y(), b.log(a))) : null,
    ];
  },
  // The condition is not differentiable; each branch gets the gradient where it was chosen.
  Where: (c) => [
    null,
    c.need(1) ? c.b.where(c.x(0), c.dy, c.zero(c.dy)) : null,
    c.need(2) ? c.b.where(c.x(0), c.zero(c.dy), c.dy) : null,
  ],
  // Gradient passes to x where it was not clipped, else to the bound that was taken. y =
  // min(max(x, lo), hi): where both bounds equal y (lo ≥ hi), hi was applied last and takes it.
  Clip: (c) => {
    const { b } = c;
    const x = c.x(0),
      y = c.y(),
      dy = c.dy,
      zero = c.zero(dy);
    const inside = b.op1("Equal", [x, y]);
    const clippedTo = (i: number) => b.op1("And", [b.op1("Not", [inside]), b.op1("Equal", [y, c.x(i)])]);
    const toHi = c.node.inputs[2] && (c.need(1) || c.need(2)) ? clippedTo(2) : null;
    const toLo = c.need(1) ? (toHi ? b.op1("And", [clippedTo(1), b.op1("Not", [toHi])]) : clippedTo(1)) : null;
    return [
      c.need(0) ? b.where(inside, dy, zero) : null,
      toLo ? b.where(toLo, dy, zero) : null,
      c.need(2) ? b.where(toHi!, dy, zero) : null,
    ];
  },
  Abs: (c) => [c.b.mul(c.dy, c.b.op1("Sign", [c.x(0)]))],
  // d(1/x) = −y² dx
  Reciprocal: (c) => [c.b.neg(c.b.mul(c.dy, c.b.mul(c.y(), c.y())))],
  // Between float types the gradient is cast back (the walker only reaches Cast from a float).
  Cast: (c) => [c.b.cast(c.dy, c.x(0).dtype)],
  // Expand is a broadcast: the walker sums the gradient back.
  Expand: (c) => [c.dy, null],
};
