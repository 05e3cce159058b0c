// Top-1 accuracy of a classifier on a real dataset (the val set every result is reported on).
import { tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
// Not data/index.ts: that also exports the file loaders (node:fs), and the browser trainer runs this.
import { makeBatch } from "../data/augment.ts";
import type { ChannelStats } from "../data/stats.ts";
import type { Dataset } from "../data/dataset.ts";

export type Predict = (x: TensorData) => Promise<Float32Array>;

export function argmax(row: ArrayLike<number>, offset = 0, n = row.length): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (row[offset + k] > row[offset + best]) best = k;
  return best;
}

export async function topOneAccuracy(predict: Predict, d: Dataset, stats: ChannelStats, batch = 500): Promise<number> {
  const correct = await topOneCorrect(predict, d, stats, batch);
  return correct.reduce((n, v) => n + v, 0) / correct.length;
}

/** Per image of `d`: 1 where the top-1 class is its label (paired comparisons of two classifiers). */
export async function topOneCorrect(
  predict: Predict,
  d: Dataset,
  stats: ChannelStats,
  batch = 500,
): Promise<Uint8Array> {
  const top = await topOneClasses(predict, d, stats, batch);
  return Uint8Array.from(top, (c, i) => (c === d.labels[i] ? 1 : 0));
}

/** Per image of `d`: the top-1 class (agreement between two classifiers, e.g. a student and its teacher). */
export async function topOneClasses(
  predict: Predict,
  d: Dataset,
  stats: ChannelStats,
  batch = 500,
): Promise<Int32Array> {
  const n = d.labels.length;
  const K = d.classes.length;
  const top = new Int32Array(n);
  for (let i = 0; i < n; i += batch) {
    const idx = Array.from({ length: Math.min(batch, n - i) }, (_, j) => i + j);
    const logits = await predict(
      tensor("float32", [idx.length, d.channels, d.height, d.width], makeBatch(d, idx, stats)),
    );
    idx.forEach((src, j) => (top[src] = argmax(logits, j * K, K)));
  }
  return top;
}
