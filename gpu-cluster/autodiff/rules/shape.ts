// Data movement: the gradient is moved back the way the data came.
import type { GradRule } from "../rule.ts";
import { GraphError } from "../../graph/errors.ts";
import { normAxis } from "../../graph/shapes/context.ts";
import { padAmounts, sliceSpec } from "../../graph/shapes/shape-ops.ts";

const reshapeBack: GradRule = (c) => [c.b.reshapeLike(c.dy, c.x(0)), null];

export const shapeRules: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  // The inverse permutation
  Transpose: (c) => {
    const perm = c.attrs.ints("perm", [...c.x(0).shape.keys()].reverse());
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [c.b.transpose(c.dy, inv)];
  },
  // Zero-pad the gradient back to the input's extent (unit steps).
  Slice: (c) => {
    const x = c.x(0);
    const s = sliceSpec(c.attrs);
    if (s.steps.some((st) => st !== 1))
      throw new GraphError("NO_GRADIENT", "Slice gradient supports unit steps only", c.node.name);
    const r = x.shape.length;
    const pads = Array(2 * r).fill(0);
    s.axes.forEach((a, i) => {
      pads[a] = s.starts[i];
      pads[a + r] = (x.shape[a] as number) - s.ends[i];
    });
    return [c.b.pad(c.dy, pads), null, null, null, null];
  },
  // Cut the gradient into the pieces that were joined.
  Concat: (c) => {
    const { b, node } = c;
    const axis = normAxis(c.attrs, c.attrs.int("axis", 0), c.x(0).shape.length);
    const sizes = node.inputs.map((v) => v!.shape[axis]);
    if (sizes.some((d) => typeof d !== "number"))
      throw new GraphError("NO_GRADIENT", "Concat gradient needs static sizes on the concat axis", node.name);
    const parts = b.op("Split", [c.dy, b.ints(sizes as number[])], { axis });
    return parts.map((p, i) => (c.need(i) ? p : null));
  },
  // Cut away what Pad added (constant mode).
  Pad: (c) => {
    const x = c.x(0);
    if (c.attrs.string("mode", "constant") !== "constant")
      throw new GraphError("NO_GRADIENT", "Pad gradient supports constant mode only", c.node.name);
    const pads = padAmounts(c.attrs);
    const r = x.shape.length;
    if (pads.some((p) => p < 0))
      throw new GraphError("NO_GRADIENT", "Pad gradient does not support negative pads", c.node.name);
    const axes = [...Array(r).keys()].filter((a) => pads[a] || pads[a + r]);
    if (!axes.length) return [c.dy, null, null, null];
    return [
      c.b.slice(
        c.dy,
        axes.map((a) => pads[a]),
        axes.map((a) => pads[a] + (x.shape[a] as number)),
        axes,
      ),
      null,
      null,
      null,
    ];
  },
};
