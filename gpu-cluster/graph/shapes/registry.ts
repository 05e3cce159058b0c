// Shape inference: one rule per supported ONNX operator (opset 18), grouped by family.
import type { ShapeRule } from "./context.ts";
import { elementwiseShapes } from "./elementwise.ts";
import { convPoolShapes } from "./conv-pool.ts";
import { linearShapes } from "./linear.ts";
import { reduceShapes } from "./reduce.ts";
import { normalizationShapes } from "./normalization.ts";
import { shapeOpShapes } from "./shape-ops.ts";

export const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  ...elementwiseShapes,
  ...convPoolShapes,
  ...linearShapes,
  ...reduceShapes,
  ...normalizationShapes,
  ...shapeOpShapes,
};

export const SUPPORTED_OPS: readonly string[] = Object.keys(SHAPE_RULES).sort();
