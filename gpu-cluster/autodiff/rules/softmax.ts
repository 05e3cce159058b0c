// Softmax and LogSoftmax along one axis (opset 13+ semantics: a single axis, default −1).
import type { GradRule } from "../rule.ts";

export const softmaxRules: Record<string, GradRule> = {
  // dx = y ⊙ (dy − Σ_axis dy ⊙ y)
  Softmax: (c) => {
    const { b } = c;
    const y = c.y();
    const axis = c.attrs.int("axis", -1);
    const s = b.reduceSum(b.mul(c.dy, y), [axis], true);
    return [b.mul(y, b.sub(c.dy, s))];
  },
  // dx = dy − exp(y) ⊙ Σ_axis dy
  LogSoftmax: (c) => {
    const { b } = c;
    const axis = c.attrs.int("axis", -1);
    const s = b.reduceSum(c.dy, [axis], true);
    return [b.sub(c.dy, b.mul(b.exp(c.y()), s))];
  },
};
