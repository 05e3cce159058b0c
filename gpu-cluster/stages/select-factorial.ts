// --select factorial: which of three random draws each class's images come from, chosen by a
// designed experiment. At low IPC which real images are drawn moves a student more than recover
// or any selection rule does (Fashion-MNIST IPC 1: 86.5–89.1 % over five draws of one seed), yet
// a whole draw is one lottery ticket; here each class is a factor with three levels (its images
// from draw 1 = (b)'s, 2 or 3) and short students are trained on the rows of a strength-2
// orthogonal array of 3^k runs. Every level of every class appears in a third of the runs, paired
// equally with every level of every other class, so each class's main effect is estimated from all
// runs at once, and the chosen set combines each class's best level: a set none of the runs
// needs to have tried (row 0, all levels 0, is (b)'s set itself).
import type { RealSubset } from "./random-subset.ts";

export const FACTORIAL_LEVELS = 3;

/** Digits of v in base 3, most significant first, k of them. */
function base3(v: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(v / 3 ** (k - 1 - i)) % 3);
}

/**
 * A strength-2 orthogonal array OA(3^k, factors, 3, 2) with the smallest k that holds the factors
 * ((3^k − 1) / 2 of them): rows of levels in {0, 1, 2}; column j is the row index's base-3 digits
 * dotted with the j-th nonzero vector of GF(3)^k whose first nonzero digit is 1, mod 3. Row 0 is
 * all zeros.
 */
export function orthogonalArray(factors: number): number[][] {
  if (!Number.isInteger(factors) || factors < 1) throw new Error(`orthogonalArray: ${factors} factors`);
  let k = 1;
  while ((3 ** k - 1) / 2 < factors) k++;
  const columns: number[][] = [];
  for (let v = 1; columns.length < factors; v++) {
    const d = base3(v, k);
    if (d.find((x) => x !== 0) === 1) columns.push(d);
  }
  return Array.from({ length: 3 ** k }, (_, r) => {
    const x = base3(r, k);
    return columns.map((c) => c.reduce((s, ci, i) => s + ci * x[i], 0) % 3);
  });
}

/** The set whose class c's images are draw levels[c]'s (draws hold ipc images per class in class blocks). */
export function composeByClass(draws: RealSubset[], levels: number[], ipc: number): RealSubset {
  const { count, channels, size } = draws[0];
  const per = channels * size * size;
  const pixels = new Float32Array(count * per);
  const labels = new Int32Array(count);
  const sources: number[] = [];
  levels.forEach((level, c) => {
    const d = draws[level];
    const from = c * ipc;
    pixels.set(d.pixels.subarray(from * per, (from + ipc) * per), from * per);
    labels.set(d.labels.subarray(from, from + ipc), from);
    sources.push(...d.sources.slice(from, from + ipc));
  });
  return { pixels, count, channels, size, labels, sources };
}

/** Each factor's main effects: the mean score of the runs at each of its levels. */
export function mainEffects(design: number[][], scores: number[]): number[][] {
  const factors = design[0].length;
  return Array.from({ length: factors }, (_, f) =>
    Array.from({ length: FACTORIAL_LEVELS }, (_, l) => {
      const at = design.flatMap((row, r) => (row[f] === l ? [scores[r]] : []));
      return at.reduce((a, b) => a + b, 0) / at.length;
    }),
  );
}

export interface FactorialSelection {
  set: RealSubset;
  /** The draw each class's images come from (0 = (b)'s). */
  levels: number[];
  /** Each run's levels and its short student's score. */
  design: number[][];
  scores: number[];
  /** The additive model's score of the chosen set (the runs' mean plus each class's chosen effect over it). */
  predicted: number;
}

/**
 * Scores every run of the design (`score`: a short student's top-1 on the set of that run) and
 * keeps each class's level of highest main effect (ties: the lower level, (b)'s first).
 */
export async function selectFactorial(
  draws: RealSubset[],
  classes: number,
  ipc: number,
  score: (set: RealSubset, run: number, runs: number) => Promise<number>,
): Promise<FactorialSelection> {
  if (draws.length !== FACTORIAL_LEVELS)
    throw new Error(`--select factorial: ${draws.length} draws, ${FACTORIAL_LEVELS} needed`);
  const design = orthogonalArray(classes);
  const scores: number[] = [];
  for (const [r, levels] of design.entries())
    scores.push(await score(composeByClass(draws, levels, ipc), r, design.length));
  const effects = mainEffects(design, scores);
  const levels = effects.map((e) => e.indexOf(Math.max(...e)));
  const grand = scores.reduce((a, b) => a + b, 0) / scores.length;
  const predicted = grand + effects.reduce((s, e, c) => s + e[levels[c]] - grand, 0);
  return { set: composeByClass(draws, levels, ipc), levels, design, scores, predicted };
}
