// Whole-model gradient checks: the composed backward graph of real architectures, with
// respect to the input and every weight, against central finite differences (float32: the
// convolutions have no float64 kernel; step and tolerance are explained at TOLERANCE).
import { describe, expect, it } from "vitest";
import { ModelBuilder } from "../../gpu-cluster/models/layers.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import { convNet } from "../../gpu-cluster/models/convnet.ts";
import { basicBlock, bottleneck } from "../../gpu-cluster/models/resnet.ts";
import { checkGradient, MODEL_EPS, TOLERANCE, type GradCase } from "./gradcheck.ts";

function modelCase(
  name: string,
  inputShape: number[],
  body: (
    m: ModelBuilder,
    x: import("../../gpu-cluster/graph/types.ts").Value,
  ) => import("../../gpu-cluster/graph/types.ts").Value,
): GradCase {
  const params = new ParamStore(3);
  return {
    name,
    ops: [],
    dtype: "float32",
    eps: MODEL_EPS,
    inputs: [{ shape: inputShape }],
    build: (b, [x]) => body(new ModelBuilder(b, params, "train"), x),
    // Weights are differentiated; BN running statistics are state, not differentiated.
    extraInputs: () =>
      new Map(
        [...params.values].map(([n, t]) => [
          n,
          { values: t.data as Float32Array, wrt: params.kinds.get(n) === "weight" },
        ]),
      ),
  };
}

describe("whole-model gradients", () => {
  it("ConvNet-2 with BatchNorm in training mode", async () => {
    const r = await checkGradient(
      modelCase("convnet", [4, 1, 8, 8], (m, x) => convNet(m, x, { depth: 2, classes: 3, width: 4 })),
    );
    expect(r.maxRelError, `max relative error ${r.maxRelError}`).toBeLessThan(TOLERANCE.float32Model);
  });

  it("ResNet basic block with stride 2 and a projection shortcut", async () => {
    const r = await checkGradient(modelCase("resblock", [3, 4, 6, 6], (m, x) => basicBlock(m, x, "layer2.0", 6, 2)));
    expect(r.maxRelError, `max relative error ${r.maxRelError}`).toBeLessThan(TOLERANCE.float32Model);
  });

  it("ResNet bottleneck block with stride 2", async () => {
    const r = await checkGradient(modelCase("bottleneck", [2, 4, 6, 6], (m, x) => bottleneck(m, x, "layer2.0", 2, 2)));
    expect(r.maxRelError, `max relative error ${r.maxRelError}`).toBeLessThan(TOLERANCE.float32Model);
  });
});
