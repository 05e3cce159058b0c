// Losses as compositions of differentiable ops: no rules of their own are needed.
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";

/** Mean over the batch of −Σ_k t_k log softmax(z)_k. Hard labels are one-hot rows of t. */
export function crossEntropy(b: GraphBuilder, logits: Value, targets: Value): Value {
  return b.scope("cross_entropy", () => {
    const logp = b.logSoftmax(logits, -1);
    return b.neg(b.reduceMean(b.reduceSum(b.mul(targets, logp), [1], false), [0], false));
  });
}

/**
 * KL(t ‖ softmax(z / T)) averaged over the batch ("batchmean"), as FKD and SRe2L's
 * post-training use it. `teacherProbs` are probabilities already at temperature T.
 * With `scaleT2` the loss is multiplied by T² (Hinton's gradient-scale correction).
 */
export function klDivergence(
  b: GraphBuilder,
  studentLogits: Value,
  teacherProbs: Value,
  temperature: number,
  scaleT2 = false,
): Value {
  return b.scope("kl_divergence", () => {
    const logq = b.logSoftmax(b.scale(studentLogits, 1 / temperature), -1);
    // t log t is constant w.r.t. the student; Max keeps log(0) out of the value.
    const logt = b.log(b.op1("Max", [teacherProbs, b.scalar(1e-12, teacherProbs.dtype)]));
    const perRow = b.reduceSum(b.mul(teacherProbs, b.sub(logt, logq)), [1], false);
    const kl = b.reduceMean(perRow, [0], false);
    return scaleT2 ? b.scale(kl, temperature * temperature) : kl;
  });
}

/** ‖x‖₂ over all elements (not squared), with a tiny ε so its gradient is defined at 0. */
export function l2Norm(b: GraphBuilder, x: Value): Value {
  const axes = [...x.shape.keys()];
  return b.sqrt(b.add(b.reduceSum(b.mul(x, x), axes, false), b.scalar(1e-12, x.dtype)));
}

/** Mean squared error. */
export function meanSquaredError(b: GraphBuilder, x: Value, y: Value): Value {
  const d = b.sub(x, y);
  return b.reduceMean(b.mul(d, d), [...x.shape.keys()], false);
}
