// MaxPool's gradient against a plain TypeScript reference, exactly: on random values, and where
// finite differences cannot look — inputs full of ties (ReLU-like zeros and repeated integers),
// where the gradient must go to the first maximum of each window, as the forward's argmax.
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";

interface Pool {
  k: number;
  s: number;
  p: number;
}

function reference(x: Float32Array, N: number, H: number, W: number, o: Pool, r: Float32Array): Float32Array {
  const Ho = Math.floor((H + 2 * o.p - o.k) / o.s) + 1,
    Wo = Math.floor((W + 2 * o.p - o.k) / o.s) + 1;
  const dx = new Float32Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < Ho; p++) {
      for (let q = 0; q < Wo; q++) {
        let best = -Infinity,
          at = -1;
        for (let i = 0; i < o.k; i++) {
          for (let j = 0; j < o.k; j++) {
            const h = p * o.s + i - o.p,
              w = q * o.s + j - o.p;
            if (h < 0 || w < 0 || h >= H || w >= W) continue;
            const v = x[n * H * W + h * W + w];
            if (v > best) {
              best = v;
              at = n * H * W + h * W + w;
            }
          }
        }
        dx[at] += r[n * Ho * Wo + p * Wo + q];
      }
    }
  }
  return dx;
}

async function autodiff(
  x: Float32Array,
  N: number,
  H: number,
  W: number,
  o: Pool,
): Promise<{ dx: Float32Array; r: Float32Array }> {
  const b = new GraphBuilder("maxpool_ties");
  const xi = b.input("x", "float32", [N, 1, H, W]);
  const y = b.maxPool(xi, [o.k, o.k], { strides: [o.s, o.s], pads: [o.p, o.p, o.p, o.p] });
  const shape = y.shape as number[];
  const r = Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, (_, i) => ((i * 7919) % 13) - 6);
  const loss = b.reduceSum(b.mul(y, b.constant(tensor("float32", shape, r))), [0, 1, 2, 3], false);
  const [g] = gradients(b, loss, [xi]);
  b.output(g, "dx");
  const session = await ort.InferenceSession.create(serializeModel(b.graph));
  const out = await session.run({ x: new ort.Tensor("float32", x, [N, 1, H, W]) });
  return { dx: out.dx.data as Float32Array, r };
}

describe("MaxPool gradient with ties", () => {
  const cases: [string, Pool][] = [
    ["3x3/2 pad 1", { k: 3, s: 2, p: 1 }],
    ["2x2/2", { k: 2, s: 2, p: 0 }],
    ["2x2/3", { k: 2, s: 3, p: 0 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}, random values`, async () => {
      const [N, H, W] = [2, 11, 10];
      const x = Float32Array.from({ length: N * H * W }, (_, i) => (Math.sin(i * 12.9898) * 43.758) % 1);
      const { dx, r } = await autodiff(x, N, H, W, o);
      expect(Array.from(dx)).toEqual(Array.from(reference(x, N, H, W, o, r)));
    });
    it(`${name}, ties`, async () => {
      const [N, H, W] = [3, 9, 8];
      // Zeros in most places (as after a ReLU) and small repeated integers elsewhere.
      const x = Float32Array.from({ length: N * H * W }, (_, i) => (i % 3 === 0 ? (i * 31) % 3 : 0));
      const { dx, r } = await autodiff(x, N, H, W, o);
      expect(Array.from(dx)).toEqual(Array.from(reference(x, N, H, W, o, r)));
    });
  }
});
