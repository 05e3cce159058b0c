// Is a horizontal flip label-preserving on this data? Decided from the pixels, not the name or
// the channel count: mirror each class's mean image and compare how far that moves it with how
// far apart the classes are. Digits and letters move about as far as the distance to another
// class (a mirrored 3 is no 3); clothing, objects and scenes hardly move (their class means are
// close to mirror-symmetric).
import type { Dataset } from "./dataset.ts";
import { pixelScale, pixelsPerImage } from "./dataset.ts";

/**
 * Flip when the median class's asymmetry is below this. Measured (train split):
 * MNIST 0.77 (per class 0.57–0.90), Fashion-MNIST 0.18 (seven classes 0.14–0.35, the three
 * one-way-facing shoes 0.48–1.31); a mirror-symmetric class scores 0 and random asymmetric
 * templates about 1. 0.4 sits near the geometric middle of MNIST and Fashion-MNIST, with a
 * factor of about 2 to either.
 */
export const FLIP_THRESHOLD = 0.4;

export interface MirrorMeasure {
  /** Per class: ‖m − mirror(m)‖ / mean over other classes j of ‖m − m_j‖ (m: the class-mean image). */
  perClass: number[];
  /** Median of perClass (classes without images left out). */
  median: number;
  flip: boolean;
}

/** The mirror asymmetry of `d`'s class means (one pass over the pixels, float64). */
export function mirrorAsymmetry(d: Dataset): MirrorMeasure {
  const { channels: C, height: H, width: W } = d;
  const P = pixelsPerImage(d);
  const K = d.classes.length;
  const s = pixelScale(d.images);
  const sums = Array.from({ length: K }, () => new Float64Array(P));
  const counts = new Array<number>(K).fill(0);
  for (let i = 0; i < d.labels.length; i++) {
    const m = sums[d.labels[i]];
    counts[d.labels[i]]++;
    for (let j = 0, o = i * P; j < P; j++) m[j] += d.images[o + j];
  }
  const present = [...counts.keys()].filter((k) => counts[k] > 0);
  const means = sums.map((m, k) => m.map((v) => (v * s) / Math.max(1, counts[k])));
  const dist = (a: Float64Array, b: Float64Array, mirrorB = false): number => {
    let acc = 0;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        const row = (c * H + y) * W;
        for (let x = 0; x < W; x++) acc += (a[row + x] - b[row + (mirrorB ? W - 1 - x : x)]) ** 2;
      }
    }
    return Math.sqrt(acc);
  };
  const perClass = present.map((k) => {
    const gap =
      present.filter((j) => j !== k).reduce((sum, j) => sum + dist(means[k], means[j]), 0) / (present.length - 1);
    return dist(means[k], means[k], true) / gap;
  });
  // With fewer than two classes there is no gap to compare with: no flip.
  const sorted = [...perClass].sort((a, b) => a - b);
  const median = sorted.length < 2 ? Infinity : (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
  return { perClass, median, flip: median < FLIP_THRESHOLD };
}
