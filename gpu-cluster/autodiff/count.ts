// The number of elements of a value over some axes, as a scalar of its dtype: a constant when
// those dims are static, a Shape → Gather → ReduceProd at run time when one is symbolic (the batch).
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";

export function countOver(b: GraphBuilder, x: Value, axes: readonly number[]): Value {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === "number"))
    return b.scalar(
      (dims as number[]).reduce((p, d) => p * d, 1),
      x.dtype,
    );
  const sizes = b.op1("Gather", [b.shapeOf(x), b.ints(axes)], { axis: 0 });
  return b.cast(b.op1("ReduceProd", [sizes, b.ints([0])], { keepdims: 0 }), x.dtype);
}
