// Normalisation layers. BatchNormalization in training mode also returns updated running stats.
import type { ShapeRule } from "./context.ts";

const batchNorm: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const c = x.shape[1];
  for (let i = 1; i <= 4; i++) {
    const p = ctx.input(i);
    if (p.shape.length !== 1 || (typeof c === "number" && p.shape[0] !== c)) {
      throw ctx.error("BAD_SHAPE", `input ${i} must be [${c}] (one value per channel), got [${p.shape.join(", ")}]`);
    }
  }
  const outs = [{ dtype: x.dtype, shape: [...x.shape] }];
  if (ctx.int("training_mode", 0)) outs.push({ dtype: x.dtype, shape: [c] }, { dtype: x.dtype, shape: [c] });
  return outs;
};

const instanceNorm: ShapeRule = (ctx) => [{ dtype: ctx.input(0).dtype, shape: [...ctx.input(0).shape] }];

const layerNorm: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  let axis = ctx.int("axis", -1);
  if (axis < 0) axis += rank;
  const stat = x.shape.map((d, i) => (i < axis ? d : 1));
  // Mean and InvStdDev are in the stash type: float32, the only one ORT's kernels compute in.
  const stash = ctx.int("stash_type", 1);
  if (stash !== 1)
    throw ctx.error("BAD_ATTRIBUTE", `stash_type ${stash} has no ONNX Runtime kernel; use stash_type=1 (float32)`);
  return [
    { dtype: x.dtype, shape: [...x.shape] },
    { dtype: "float32", shape: stat },
    { dtype: "float32", shape: stat },
  ];
};

export const normalizationShapes: Record<string, ShapeRule> = {
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LayerNormalization: layerNorm,
};
