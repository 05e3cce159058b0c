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

/**
 * Jensen–Shannon divergence between softmax(p / T) and softmax(q / T), in nats (≤ ln 2), averaged
 * over the batch: ½ KL(P ‖ M) + ½ KL(Q ‖ M) with M = ½ (P + Q). Symmetric and bounded, so a term
 * that maximises it cannot run off to infinity the way a plain KL can.
 */
export function jensenShannon(b: GraphBuilder, p: Value, q: Value, temperature: number): Value {
  return b.scope("jensen_shannon", () => {
    const logP = b.logSoftmax(b.scale(p, 1 / temperature), -1);
    const logQ = b.logSoftmax(b.scale(q, 1 / temperature), -1);
    const P = b.exp(logP),
      Q = b.exp(logQ);
    // the lower bound keeps log(0) out where both rows underflow (then both weights are 0 too)
    const logM = b.log(b.op1("Clip", [b.scale(b.add(P, Q), 0.5), b.scalar(1e-30, p.dtype)]));
    const perRow = b.reduceSum(b.add(b.mul(P, b.sub(logP, logM)), b.mul(Q, b.sub(logQ, logM))), [1], false);
    return b.scale(b.reduceMean(perRow, [0], false), 0.5);
  });
}
