// Does recover earn its place on this data? One student per candidate image set — baseline (b)'s
// random real images, the real images recover started from, the recovered images — each trained
// exactly as evaluate trains ours (its own soft labels, the run's crops, the full student budget)
// and scored on training images no candidate was drawn from (never the test set). A more processed
// set is kept only when its student beats the kept one's on the same images by a one-sided
// McNemar test at 5 %: recover and selection have to earn their place, not win a coin toss.
// Why a gate: at one image per class, recover adds 0.85 pt on MNIST and costs 3.2 pt on
// Fashion-MNIST; with CutMix crops the k-means representatives there trail a random draw
// (docs/ablations.md): only the data can tell. Why full students scored on many images: 50 000-crop
// probes on a 5 000-image split favoured recovered images that then lost to (b) at the full budget.
import { quantileNormal } from "vega-statistics";
import { Random, indicesByClass, subset, type Dataset } from "../data/index.ts";
import type { ImageSet } from "./crops.ts";
import type { GateCandidate } from "../../shared/gate-candidates.ts";

export { defaultGateDraws, type GateCandidate } from "../../shared/gate-candidates.ts";

/** Training images the gate scores each student on, at most. */
export const GATE_SCORING_IMAGES = 50_000;
/** One-sided 5 % normal quantile: how many standard errors a more processed set must win by. */
export const GATE_Z = 1.645;

/**
 * How a later candidate displaces the kept one: `significant`, by a one-sided McNemar test at 5 %
 * (processing has to earn its place); `best`, by any win on the scoring images (the highest score
 * is kept, ties keep the less processed set): the choice that maximises the expected student when
 * no candidate is presumed better.
 */
export const GATE_KEEP_RULES = ["significant", "best"] as const;
export type GateKeep = (typeof GATE_KEEP_RULES)[number];

/**
 * The bar when the gate also weighs `draws` random real subsets (--gate-draws): the best of several
 * draws beats (b)'s by chance more often than one set does, so the 5 % is split over the draws
 * (Bonferroni); one draw is the plain GATE_Z. Under `best` the bar is 0: any win counts.
 */
export function gateZ(draws: number, keep: GateKeep = "significant"): number {
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`recover gate: ${draws} random draws (needs ≥ 1)`);
  if (keep === "best") return 0;
  return draws === 1 ? GATE_Z : quantileNormal(1 - 0.05 / draws);
}

/**
 * Up to `limit` training images outside `exclude`, the same share of each class, seeded by
 * `stream`: their indices, ascending.
 */
export function heldOutIndices(
  train: Dataset,
  exclude: Iterable<number>,
  seed: number,
  limit: number,
  stream: string,
): number[] {
  const out = new Set(exclude);
  const byClass = indicesByClass(train).map((pool) => pool.filter((i) => !out.has(i)));
  const left = byClass.reduce((n, pool) => n + pool.length, 0);
  const share = Math.min(1, limit / Math.max(1, left));
  const rng = new Random(seed, stream);
  return byClass
    .flatMap((pool) => (rng.shuffle(pool) as number[]).slice(0, Math.round(pool.length * share)))
    .sort((a, b) => a - b);
}

/**
 * The gate's scoring images: the training images outside `exclude` (every candidate's source
 * images), GATE_SCORING_IMAGES of them at most, the same share of each class, seeded.
 */
export function gateScoringSet(train: Dataset, exclude: Iterable<number>, seed: number): Dataset {
  const picked = heldOutIndices(train, exclude, seed, GATE_SCORING_IMAGES, "gate-scoring");
  if (picked.length === 0)
    throw new Error(`recover gate: no training image of ${train.name} is left to score students on`);
  return subset(train, picked, `${train.name}/gate`);
}

/**
 * By how many standard errors `b` beats `a` on the same images (McNemar: only the images exactly
 * one of them gets right count); 0 where they never disagree.
 */
export function mcnemarZ(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`McNemar: ${a.length} against ${b.length} images`);
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) onlyA++;
    else if (b[i] && !a[i]) onlyB++;
  }
  return onlyA + onlyB === 0 ? 0 : (onlyB - onlyA) / Math.sqrt(onlyA + onlyB);
}

export interface GateResult {
  /** Top-1 of each candidate's student on the scoring images. */
  scores: Partial<Record<GateCandidate, number>>;
  /** McNemar z of each later candidate against the set kept before it. */
  z: Partial<Record<GateCandidate, number>>;
  kept: GateCandidate;
}

/**
 * `sets` hold images of one shape in class blocks (K × ipc; at --image-bits below 8 the start and
 * the recovered images are more than (b)'s), listed from the least to the most processed;
 * `correct` is which scoring images a student trained on a set gets right. The first set is kept
 * unless a later one beats it (and then that one) by more than `z` standard errors.
 */
export async function recoverGate(
  sets: { name: GateCandidate; set: ImageSet }[],
  correct: (set: ImageSet) => Promise<Uint8Array>,
  z = GATE_Z,
): Promise<GateResult> {
  if (sets.length === 0) throw new Error("recover gate: no candidate image sets");
  for (const { name, set } of sets) {
    const first = sets[0];
    if (set.pixels.length * first.set.count !== first.set.pixels.length * set.count)
      throw new Error(
        `recover gate: ${first.set.count} ${first.name} images in ${first.set.pixels.length} values but ${set.count} ${name} images in ${set.pixels.length}: not images of one shape`,
      );
  }
  const result: GateResult = { scores: {}, z: {}, kept: sets[0].name };
  let keptCorrect: Uint8Array | undefined;
  for (const { name, set } of sets) {
    const c = await correct(set);
    result.scores[name] = c.reduce((n, v) => n + v, 0) / c.length;
    if (keptCorrect) {
      result.z[name] = mcnemarZ(keptCorrect, c);
      if (result.z[name]! <= z) continue;
      result.kept = name;
    }
    keptCorrect = c;
  }
  return result;
}
