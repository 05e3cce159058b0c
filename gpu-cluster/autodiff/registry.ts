// The gradient rule registry: one rule per differentiable ONNX operator, by family.
import type { GradRule } from "./rule.ts";
import { elementwiseRules } from "./rules/elementwise.ts";
import { activationRules } from "./rules/activations.ts";
import { softmaxRules } from "./rules/softmax.ts";
import { linearRules } from "./rules/linear.ts";
import { convRules } from "./rules/conv.ts";
import { poolRules } from "./rules/pool.ts";
import { reduceRules } from "./rules/reduce.ts";
import { shapeRules } from "./rules/shape.ts";
import { normalizationRules } from "./rules/normalization.ts";

export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  ...elementwiseRules,
  ...activationRules,
  ...softmaxRules,
  ...linearRules,
  ...convRules,
  ...poolRules,
  ...reduceRules,
  ...shapeRules,
  ...normalizationRules,
};

export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(GRAD_RULES).sort();
