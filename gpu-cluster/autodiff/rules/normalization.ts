// Normalisation layers. All share one backward formula over the normalised axes A:
//   x̂ = (x − μ_A) / σ_A,  g = dy · γ,  dx = (g − mean_A(g) − x̂ · mean_A(g · x̂)) / σ_A
// BatchNormalization in inference mode is an affine map with fixed statistics.
import type { GradRule } from "../rule.ts";
import type { GraphBuilder } from "../../graph/builder.ts";
import type { Value } from "../../graph/types.ts";
import { countOver } from "../count.ts";

/** Reshapes a per-channel vector [C] to broadcast against [N, C, ...]. */
function perChannel(b: GraphBuilder, v: Value, rank: number): Value {
  return b.reshape(v, [-1, ...Array(rank - 2).fill(1)]);
}

/** Batch statistics over `axes`: x − μ and 1/√(σ² + ε) (population variance). */
interface Stats {
  xc: Value;
  invStd: Value;
}
function batchStats(b: GraphBuilder, x: Value, axes: number[], eps: number): Stats {
  const xc = b.sub(x, b.reduceMean(x, axes));
  const variance = b.reduceMean(b.mul(xc, xc), axes);
  return { xc, invStd: b.op1("Reciprocal", [b.sqrt(b.add(variance, b.scalar(eps, x.dtype)))]) };
}

/** Backward of normalisation over `axes` with batch statistics; returns dx and x̂. */
function normalizedBackward(
  b: GraphBuilder,
  { xc, invStd }: Stats,
  dy: Value,
  gamma: Value,
  axes: number[],
): { dx: Value; xhat: Value } {
  const xhat = b.mul(xc, invStd);
  const g = b.mul(dy, gamma);
  const inner = b.sub(b.sub(g, b.reduceMean(g, axes)), b.mul(xhat, b.reduceMean(b.mul(g, xhat), axes)));
  return { dx: b.mul(inner, invStd), xhat };
}

/**
 * The same backward when γ is constant over A (BatchNormalization, InstanceNormalization: γ is
 * per channel and A excludes the channel axis). Then dx is affine in dy and x − μ with
 * coefficients per normalised group:
 *   dx = a·dy + b·(x − μ) + c,  a = γ/σ,  b = −(γ/σ³)·mean_A(dy·(x − μ)),  c = −(γ/σ)·mean_A(dy)
 * which is 7 full-size passes (x − μ, its square, dy·(x − μ), two products, two sums) instead of
 * 11, and Σ_A dy·x̂ = |A|·mean_A(dy·(x − μ))/σ comes for free (γ's gradient).
 */
function perChannelBackward(
  b: GraphBuilder,
  x: Value,
  { xc, invStd }: Stats,
  dy: Value,
  gamma: Value,
  axes: number[],
): { dx: Value; dyXhatSum: Value } {
  const dyXc = b.reduceMean(b.mul(dy, xc), axes);
  const a = b.mul(gamma, invStd);
  const coefXc = b.neg(b.mul(a, b.mul(b.mul(invStd, invStd), dyXc)));
  const shift = b.neg(b.mul(a, b.reduceMean(dy, axes)));
  const dx = b.add(b.add(b.mul(dy, a), b.mul(xc, coefXc)), shift);
  return { dx, dyXhatSum: b.mul(b.mul(dyXc, invStd), countOver(b, x, axes)) };
}

/** Sums the terms present (null when none is). */
function sumOf(b: GraphBuilder, terms: (Value | null)[]): Value | null {
  return terms.reduce<Value | null>((acc, t) => (t ? (acc ? b.add(acc, t) : t) : acc), null);
}

const spatialAxes = (rank: number) => [...Array(rank - 2).keys()].map((i) => i + 2);

export const normalizationRules: Record<string, GradRule> = {
  BatchNormalization: (c) => {
    const { b } = c;
    const x = c.x(0),
      scale = c.x(1);
    const rank = x.shape.length;
    const eps = c.attrs.float("epsilon", 1e-5);
    const channelAxes = [0, ...spatialAxes(rank)];
    const sumToChannel = (v: Value) => b.reduceSum(v, channelAxes, false);
    if (c.attrs.int("training_mode", 0) === 1) {
      // Batch statistics. The running-stat outputs are usually state nobody differentiates; when a
      // gradient does reach them: running = m·input + (1 − m)·batch, batch var over N and space.
      const m = c.attrs.float("momentum", 0.9);
      const dy = c.dyAt(0),
        dMean = c.dyAt(1),
        dVar = c.dyAt(2);
      const stats = batchStats(b, x, channelAxes, eps);
      const back = dy ? perChannelBackward(b, x, stats, dy, perChannel(b, scale, rank), channelAxes) : null;
      const perElement = (v: Value, k: number) =>
        b.div(b.scale(perChannel(b, v, rank), k), countOver(b, x, channelAxes));
      const dx = c.need(0)
        ? sumOf(b, [
            back?.dx ?? null,
            dMean ? perElement(dMean, 1 - m) : null,
            dVar ? b.mul(stats.xc, perElement(dVar, 2 * (1 - m))) : null,
          ])
        : null;
      return [
        dx,
        c.need(1) && back ? b.reshape(back.dyXhatSum, [-1]) : null,
        c.need(2) && dy ? sumToChannel(dy) : null,
        c.need(3) && dMean ? b.scale(dMean, m) : null,
        c.need(4) && dVar ? b.scale(dVar, m) : null,
      ];
    }
    // Inference: y = γ (x − μ) / √(σ² + ε) + β with μ, σ² inputs
    const dy = c.dy;
    const mean = perChannel(b, c.x(3), rank),
      variance = perChannel(b, c.x(4), rank);
    const invStd = b.op1("Reciprocal", [b.sqrt(b.add(variance, b.scalar(eps, x.dtype)))]);
    const gammaInv = b.mul(perChannel(b, scale, rank), invStd);
    const xhat = c.need(1) || c.need(4) ? b.mul(b.sub(x, mean), invStd) : null;
    return [
      c.need(0) ? b.mul(dy, gammaInv) : null,
      c.need(1) ? sumToChannel(b.mul(dy, xhat!)) : null,
      c.need(2) ? sumToChannel(dy) : null,
      // ∂y/∂μ = −γ/σ
      c.need(3) ? b.neg(sumToChannel(b.mul(dy, gammaInv))) : null,
      // ∂y/∂σ² = −½ γ x̂ / (σ² + ε)
      c.need(4) ? b.scale(sumToChannel(b.mul(b.mul(dy, gammaInv), b.mul(xhat!, invStd))), -0.5) : null,
    ];
  },
  InstanceNormalization: (c) => {
    const { b } = c;
    const x = c.x(0),
      scale = c.x(1),
      dy = c.dy;
    const rank = x.shape.length;
    const axes = spatialAxes(rank);
    const stats = batchStats(b, x, axes, c.attrs.float("epsilon", 1e-5));
    const { dx, dyXhatSum } = perChannelBackward(b, x, stats, dy, perChannel(b, scale, rank), axes);
    const sumToChannel = (v: Value) => b.reduceSum(v, [0, ...spatialAxes(rank)], false);
    return [c.need(0) ? dx : null, c.need(1) ? sumToChannel(dyXhatSum) : null, c.need(2) ? sumToChannel(dy) : null];
  },
  LayerNormalization: (c) => {
    const { b } = c;
    const x = c.x(0),
      scale = c.x(1);
    const rank = x.shape.length;
    let axis = c.attrs.int("axis", -1);
    if (axis < 0) axis += rank;
    const axes = [...Array(rank - axis).keys()].map((i) => i + axis);
    const eps = c.attrs.float("epsilon", 1e-5);
    const dy = c.dyAt(0),
      dMean = c.dyAt(1),
      dInvStd = c.dyAt(2);
    // The Mean / InvStdDev outputs are in the stash type (float32 by default): their gradients
    // come back to x's dtype. d mean/dx = 1/n; d (σ²+ε)^−½/dx = −s³ (x − μ)/n.
    const asX = (v: Value) => (v.dtype === x.dtype ? v : b.cast(v, x.dtype));
    const stats = batchStats(b, x, axes, eps);
    const back = dy ? normalizedBackward(b, stats, dy, scale, axes) : null;
    const perElement = (v: Value) => b.div(v, countOver(b, x, axes));
    const s3 = () => b.mul(stats.invStd, b.mul(stats.invStd, stats.invStd));
    const dx = c.need(0)
      ? sumOf(b, [
          back?.dx ?? null,
          dMean ? perElement(asX(dMean)) : null,
          dInvStd ? b.mul(stats.xc, perElement(b.neg(b.mul(asX(dInvStd), s3())))) : null,
        ])
      : null;
    // γ and β broadcast over the leading axes: the walker sums them back.
    return [dx, c.need(1) && back ? b.mul(dy!, back.xhat) : null, c.need(2) && dy && c.node.inputs[2] ? dy : null];
  },
};
