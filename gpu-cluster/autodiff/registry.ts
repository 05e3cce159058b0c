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

/** Merges rule families; an operator registered twice is an error, never a silent override. */
export function registerRules(...families: Record<string, GradRule>[]): Readonly<Record<string, GradRule>> {
  const rules: Record<string, GradRule> = {};
  for (const family of families) {
    for (const [op, rule] of Object.entries(family)) {
      if (op in rules) throw new Error(`gradient rule for '${op}' registered twice: keep one`);
      rules[op] = rule;
    }
  }
  return rules;
}

export const GRAD_RULES = registerRules(
  elementwiseRules,
  activationRules,
  softmaxRules,
  linearRules,
  convRules,
  poolRules,
  reduceRules,
  shapeRules,
  normalizationRules,
);

export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(GRAD_RULES).sort();
