// Pooling. MaxPool routes each output gradient to the input position that won (its Indices
// output, added to the forward node if it was not requested); AveragePool spreads it evenly
// over the window with a depthwise transposed convolution.
import type { GradRule } from "../rule.ts";
import { GraphError } from "../../graph/errors.ts";
import { tensor } from "../../graph/builder.ts";
import { windowAttrs } from "../../graph/shapes/conv-pool.ts";

export const poolRules: Record<string, GradRule> = {
  MaxPool: (c) => {
    const { b, node } = c;
    const x = c.x(0);
    if (node.outputs.length < 2) {
      // Ask the forward MaxPool for its argmax positions (flat indices into x).
      const idx = b.graph.newValue(`${node.name}:indices`, "int64", node.outputs[0].shape);
      idx.producer = node;
      node.outputs.push(idx);
    }
    const indices = node.outputs[1];
    const flatX = b.reshape(x, [-1]);
    const zeros = b.op1("ConstantOfShape", [b.shapeOf(flatX)], {
      value: { kind: "tensor", value: tensor(x.dtype, [1], [0]) },
    });
    const scattered = b.op1("ScatterElements", [zeros, b.reshape(indices, [-1]), b.reshape(c.dy, [-1])], {
      axis: 0,
      reduction: "add",
    });
    return [b.reshapeLike(scattered, x)];
  },
  AveragePool: (c) => {
    const { b } = c;
    const x = c.x(0);
    const kernel = c.attrs.ints("kernel_shape", []);
    const w = windowAttrs(c.attrs, kernel);
    if (c.attrs.int("ceil_mode", 0) === 1)
      throw new GraphError("NO_GRADIENT", "AveragePool gradient does not support ceil_mode=1", c.node.name);
    const channels = x.shape[1];
    if (typeof channels !== "number")
      throw new GraphError("NO_GRADIENT", "AveragePool gradient needs a static channel count", c.node.name);
    const inSp = x.shape.slice(2) as number[],
      outSp = c.y().shape.slice(2) as number[];
    const nd = kernel.length;
    const area = kernel.reduce((p, k) => p * k, 1);
    const hasPad = w.pads.some((p) => p !== 0);
    let dy = c.dy;
    if (hasPad && c.attrs.int("count_include_pad", 0) === 0) {
      // Border windows average over fewer elements: divide by each window's own count.
      const counts = new Float64Array(outSp.reduce((p, d) => p * d, 1));
      const perAxis = outSp.map((o, a) =>
        Array.from({ length: o }, (_, i) => {
          const start = i * w.strides[a] - w.pads[a];
          return Math.min(start + kernel[a], inSp[a]) - Math.max(start, 0);
        }),
      );
      counts.forEach((_, flat) => {
        let rem = flat,
          n = 1;
        for (let a = nd - 1; a >= 0; a--) {
          n *= perAxis[a][rem % outSp[a]];
          rem = Math.floor(rem / outSp[a]);
        }
        counts[flat] = 1 / n;
      });
      dy = b.mul(dy, b.constant(tensor(dy.dtype, [1, 1, ...outSp], counts)));
    } else {
      dy = b.scale(dy, 1 / area);
    }
    const ones = b.constant(tensor(x.dtype, [channels, 1, ...kernel], new Float64Array(channels * area).fill(1)));
    const outputPadding = inSp.map(
      (target, i) => target - (w.strides[i] * (outSp[i] - 1) + kernel[i] - w.pads[i] - w.pads[i + nd]),
    );
    return [
      b.op1("ConvTranspose", [dy, ones], {
        strides: w.strides,
        pads: w.pads,
        group: channels,
        output_padding: outputPadding,
      }),
    ];
  },
  // dx = dy / (H·W) broadcast over the window
  GlobalAveragePool: (c) => {
    const x = c.x(0);
    const area = (x.shape.slice(2) as number[]).reduce((p, d) => p * d, 1);
    return [c.b.expandLike(c.b.scale(c.dy, 1 / area), x)];
  },
};
