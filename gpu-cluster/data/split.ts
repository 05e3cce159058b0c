// Seeded, stratified train/val split: each class keeps the same val fraction (at least one val
// image when the class has two or more), so small classes are not lost from either side.
import type { Dataset } from "./dataset.ts";
import { indicesByClass, subset } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { Random } from "./random.ts";

export function stratifiedSplit(d: Dataset, valFraction: number, seed: number): { train: Dataset; val: Dataset } {
  if (!(valFraction > 0 && valFraction < 1))
    throw new DataError("BAD_OPTION", d.name, `val fraction must be in (0, 1), got ${valFraction}`);
  const rng = new Random(seed, "split");
  const train: number[] = [];
  const val: number[] = [];
  for (const idx of indicesByClass(d)) {
    rng.shuffle(idx);
    const nVal = idx.length < 2 ? 0 : Math.max(1, Math.round(idx.length * valFraction));
    val.push(...idx.slice(0, nVal));
    train.push(...idx.slice(nVal));
  }
  train.sort((a, b) => a - b);
  val.sort((a, b) => a - b);
  const base = d.name.replace(/\/all$/, "");
  return { train: subset(d, train, `${base}/train`), val: subset(d, val, `${base}/val`) };
}

/**
 * The held-out split squeeze picks its teacher's epoch on, carved from the training images so
 * that the test set is never looked at: 1/12 of train, at most 5 000 images (MNIST: 5 000 of
 * 60 000), stratified and seeded. Undefined when that is under one image per class (too little
 * data to hold any out: the last epoch is kept).
 */
export function validationSplit(d: Dataset, seed: number): { fit: Dataset; holdout: Dataset } | undefined {
  const n = d.labels.length;
  const size = Math.min(5000, Math.floor(n / 12));
  if (size < d.classes.length) return undefined;
  const { train, val } = stratifiedSplit(d, size / n, seed);
  return { fit: { ...train, name: `${d.name}/fit` }, holdout: { ...val, name: `${d.name}/holdout` } };
}
