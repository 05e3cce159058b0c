// Matrix products: Gemm (2-D, optional transposes) and batched MatMul with broadcast batch dims.
import type { ShapeRule } from "./context.ts";
import { broadcastShapes } from "./context.ts";

const gemm: ShapeRule = (ctx) => {
  const a = ctx.input(0),
    b = ctx.input(1);
  if (a.shape.length !== 2 || b.shape.length !== 2) throw ctx.error("BAD_SHAPE", "Gemm inputs must be 2-D");
  const [m, ka] = ctx.int("transA", 0) ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = ctx.int("transB", 0) ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) throw ctx.error("BAD_SHAPE", `inner dims differ: ${ka} vs ${kb}`);
  const c = ctx.optionalInput(2);
  if (c) broadcastShapes(ctx, [[m, n], c.shape]);
  return [{ dtype: a.dtype, shape: [m, n] }];
};

const matmul: ShapeRule = (ctx) => {
  const a = ctx.input(0),
    b = ctx.input(1);
  if (a.shape.length < 2 || b.shape.length < 2)
    throw ctx.error("BAD_SHAPE", "MatMul inputs must be at least 2-D (reshape vectors first)");
  const ka = a.shape[a.shape.length - 1],
    kb = b.shape[b.shape.length - 2];
  if (ka !== kb) throw ctx.error("BAD_SHAPE", `inner dims differ: [${a.shape.join(", ")}] × [${b.shape.join(", ")}]`);
  const batch = broadcastShapes(ctx, [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  return [{ dtype: a.dtype, shape: [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]] }];
};

export const linearShapes: Record<string, ShapeRule> = { Gemm: gemm, MatMul: matmul };
