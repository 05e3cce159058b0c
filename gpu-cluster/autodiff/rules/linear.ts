// Matrix products. Batched MatMul broadcasts batch dims; the walker sums them back.
import type { GradRule } from "../rule.ts";
import type { GraphBuilder } from "../../graph/builder.ts";
import type { Value } from "../../graph/types.ts";

const swapLast = (b: GraphBuilder, v: Value): Value => {
  const r = v.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return b.transpose(v, perm);
};

export const linearRules: Record<string, GradRule> = {
  // dA = dY Bᵀ, dB = Aᵀ dY
  MatMul: (c) => [
    c.need(0) ? c.b.matmul(c.dy, swapLast(c.b, c.x(1))) : null,
    c.need(1) ? c.b.matmul(swapLast(c.b, c.x(0)), c.dy) : null,
  ],
  // Y = α op(A) op(B) + β C; each case keeps the result in A's and B's own layout.
  Gemm: (c) => {
    const { b } = c;
    const A = c.x(0),
      B = c.x(1),
      dY = c.dy;
    const alpha = c.attrs.float("alpha", 1),
      beta = c.attrs.float("beta", 1);
    const tA = c.attrs.int("transA", 0) === 1,
      tB = c.attrs.int("transB", 0) === 1;
    const g = (p: Value, q: Value, transA: boolean, transB: boolean) => b.gemm(p, q, null, { transA, transB, alpha });
    let dA: Value | null = null,
      dB: Value | null = null;
    if (c.need(0)) {
      if (!tA) dA = tB ? g(dY, B, false, false) : g(dY, B, false, true);
      else dA = tB ? g(B, dY, true, true) : g(B, dY, false, true);
    }
    if (c.need(1)) {
      if (!tB) dB = tA ? g(A, dY, false, false) : g(A, dY, true, false);
      else dB = tA ? g(dY, A, true, true) : g(dY, A, true, false);
    }
    const dC = c.need(2) ? b.scale(dY, beta) : null;
    return [dA, dB, dC];
  },
};
