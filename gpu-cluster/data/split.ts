// Seeded, stratified train/val split: each class keeps the same val fraction (at least one val
// image when the class has two or more), so small classes are not lost from either side.
import type { Dataset } from "./dataset.ts";
import { indicesByClass, subset } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { Random } from "./random.ts";

export function stratifiedSplit(d: Dataset, valFraction: number, seed: number): { train: Dataset; val: Dataset } {
  if (!(valFraction > 0 && valFraction < 1)) throw new DataError("BAD_OPTION", d.name, `val fraction must be in (0, 1), got ${valFraction}`);
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
