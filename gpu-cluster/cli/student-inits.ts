// Several students per set, from different draws of initial weights (--student-inits). On the same
// images, crops and labels one student's top-1 moves with its draw alone by about as much as the
// gap between distilled and random images (docs/ablations.md, "The student's own draw"), so
// comparisons are judged on the mean of several draws and on their paired differences.

import { mean, sampleSd } from "./summary-stats.ts";

/** Seed step between draws: far apart, so that run seeds below it never share a draw. */
export const INIT_SEED_STEP = 1000;

/** The initial-weight seeds of `k` draws, the first being `base` (a one-draw run is unchanged). */
export function studentInitSeeds(base: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => base + INIT_SEED_STEP * i);
}

/** `a − b` draw by draw (the same initial weights on both sets): mean, its standard error, draws where a leads. */
export function pairedDifference(a: number[], b: number[]): { mean: number; se: number; ahead: number; draws: number } {
  if (a.length !== b.length) throw new Error(`paired draws differ in number: ${a.length} and ${b.length}`);
  const d = a.map((x, i) => x - b[i]);
  return {
    mean: mean(d),
    se: sampleSd(d) / Math.sqrt(d.length),
    ahead: d.filter((x) => x > 0).length,
    draws: d.length,
  };
}
