// ConvNet-D, the dataset-distillation benchmark network: D blocks of
// conv 3×3 (width 128) → norm → ReLU → average-pool 2×2, then one linear classifier.
// BatchNorm by default: its running statistics are what recover matches. "instance" is the norm of
// DC's ConvNet (Zhao et al. 2021, GroupNorm(C, C)), on which the published records were measured;
// it has no running statistics, so it serves as a student only.
import type { Value } from "../graph/types.ts";
import type { ModelBuilder } from "./layers.ts";

export interface ConvNetOptions {
  depth: number;
  classes: number;
  width?: number;
  norm?: "batch" | "instance";
}

export function convNet(m: ModelBuilder, x: Value, o: ConvNetOptions): Value {
  const { b } = m;
  const width = o.width ?? 128;
  let h = x;
  for (let i = 0; i < o.depth; i++) {
    h = b.scope(`features.${i}`, () => {
      // InstanceNorm subtracts each map's mean, so a conv bias before it is dead weight (DC keeps
      // one): its gradient is rounding noise, which Adam would scale into steps of lr
      const conv = m.conv2d(h, `features.${i}.conv`, width, 3, { pad: 1, bias: o.norm !== "instance" });
      const norm =
        o.norm === "instance" ? m.instanceNorm(conv, `features.${i}.norm`) : m.batchNorm(conv, `features.${i}.norm`);
      const act = b.relu(norm);
      return b.averagePool(act, [2, 2]);
    });
  }
  return m.linear(b.flatten(h, 1), "classifier", o.classes);
}
