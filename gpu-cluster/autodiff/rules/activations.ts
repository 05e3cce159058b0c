// Pointwise nonlinearities, written with the forward output where that is cheaper.
import type { GradRule } from "../rule.ts";

export const activationRules: Record<string, GradRule> = {
  // dx = dy · [y > 0] (y > 0 exactly where x is). Greater → Cast → Mul: ORT's CPU Sign and
  // Where are scalar loops, ≈ 3× slower than this on a [256, 128, 28, 28] tensor (scratch bench).
  Relu: (c) => [c.b.mul(c.dy, c.b.cast(c.b.op1("Greater", [c.y(), c.zero(c.y())]), c.dy.dtype))],
  // dx = dy · (x > 0 ? 1 : alpha)
  LeakyRelu: (c) => {
    const alpha = c.attrs.float("alpha", 0.01);
    const x = c.x(0);
    return [c.b.where(c.b.op1("Greater", [x, c.zero(x)]), c.dy, c.b.scale(c.dy, alpha))];
  },
  // dx = dy · y (1 − y)
  Sigmoid: (c) => {
    const { b } = c;
    const y = c.y();
    return [b.mul(c.dy, b.mul(y, b.sub(b.scalar(1, y.dtype), y)))];
  },
  // dx = dy · (1 − y²)
  Tanh: (c) => {
    const { b } = c;
    const y = c.y();
    return [b.mul(c.dy, b.sub(b.scalar(1, y.dtype), b.mul(y, y)))];
  },
  // dx = dy · 2/√π · exp(−x²)
  Erf: (c) => {
    const { b } = c;
    const x = c.x(0);
    return [b.mul(c.dy, b.scale(b.exp(b.neg(b.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  // dx = dy · y
  Exp: (c) => [c.b.mul(c.dy, c.y())],
  // dx = dy / x
  Log: (c) => [c.b.div(c.dy, c.x(0))],
  // dx = dy / (2 y)
  Sqrt: (c) => [c.b.div(c.b.scale(c.dy, 0.5), c.y())],
};
