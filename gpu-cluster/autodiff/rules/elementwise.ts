// Arithmetic with broadcasting. Rules return gradients at the output's shape; the walker
// reduces them to each input's shape.
import type { GradRule } from "../rule.ts";
import { unbroadcast } from "../unbroadcast.ts";

export const elementwiseRules: Record<string, GradRule> = {
  Identity: (c) => [c.dy],
  // d(a+b) = da + db
  Add: (c) => [c.dy, c.dy],
  // d(a-b) = da - db
  // (b's gradient is reduced to b's shape before it is negated: a per-channel Neg, not a full one)
  Sub: (c) => [c.dy, c.need(1) ? c.b.neg(unbroadcast(c.b, c.dy, c.x(1))) : null],
  Neg: (c) => [c.b.neg(c.dy)],
  // d(ab) = b da + a db
  // d(a·a) = 2a da in one product (the walker would otherwise build two and add them).
  Mul: (c) => c.x(0) === c.x(1)
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
    const a = c.x(0), p = c.x(1);
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
  // Gradient passes where the value was not clipped.
  Clip: (c) => {
    const { b } = c;
    const x = c.x(0);
    const inside = b.op1("Equal", [x, c.y()]);
    return [b.where(inside, c.dy, c.zero(c.dy)), null, null];
  },
  Abs: (c) => [c.b.mul(c.dy, c.b.op1("Sign", [c.x(0)]))],
  // d(1/x) = −y² dx
  Reciprocal: (c) => [c.b.neg(c.b.mul(c.dy, c.b.mul(c.y(), c.y())))],
  // Expand is a broadcast: the walker sums the gradient back.
  Expand: (c) => [c.dy, null],
};
