// Class-incremental learning (the protocol of DM's continual-learning code, after GDumb): the
// classes arrive in a seeded order, a few per step; at every step a fresh model is trained from
// scratch on all the memory so far and tested on the classes seen so far only. This file is the
// pure part: the order, which classes each step adds, and the data a step may look at.
import { Random, subset, type Dataset } from "../data/index.ts";
import { defaultStudentEpochs } from "./evaluate.ts";

/** A seeded permutation of the class indices (class-order seed s: the same order on every machine). */
export function classOrder(classes: number, seed: number): number[] {
  if (!(Number.isInteger(classes) && classes >= 1)) throw new Error(`class order: need ≥ 1 class, got ${classes}`);
  return new Random(seed, "class-order").shuffle(Array.from({ length: classes }, (_, c) => c)) as number[];
}

export interface IncrementStep {
  /** 1-based step number. */
  step: number;
  /** Dataset class indices seen so far, in arrival order: the model's output k is seen[k]. */
  seen: number[];
  /** The ones this step adds (the tail of `seen`). */
  added: number[];
}

/**
 * `steps` steps over `order`: step s adds classes [⌊(s−1)·C/S⌋, ⌊s·C/S⌋) of the order, so the
 * steps differ by at most one class when S does not divide C (20 classes in 3 steps: 6, 7, 7).
 */
export function incrementSteps(order: number[], steps: number): IncrementStep[] {
  const C = order.length;
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= C))
    throw new Error(`--steps must be an integer from 1 to the number of classes (${C}), got ${steps}`);
  return Array.from({ length: steps }, (_, i) => {
    const lo = Math.floor((i * C) / steps);
    const hi = Math.floor(((i + 1) * C) / steps);
    return { step: i + 1, seen: order.slice(0, hi), added: order.slice(lo, hi) };
  });
}

/**
 * The images of `classes` only, relabelled to their position in that list (class k of the result
 * is dataset class classes[k]); at most `perClass` per class (a seeded draw) when given.
 */
export function classSubset(d: Dataset, classes: number[], perClass?: number, seed = 0): Dataset {
  const position = new Map(classes.map((c, k) => [c, k]));
  if (position.size !== classes.length) throw new Error(`class subset: repeated classes in [${classes.join(", ")}]`);
  const picked: number[][] = classes.map(() => []);
  for (let i = 0; i < d.labels.length; i++) {
    const k = position.get(d.labels[i]);
    if (k !== undefined) picked[k].push(i);
  }
  const rng = new Random(seed, "class-subset");
  const indices = picked.flatMap((idx) =>
    perClass !== undefined && idx.length > perClass
      ? (rng.shuffle(idx) as number[]).slice(0, perClass).sort((a, b) => a - b)
      : idx,
  );
  indices.sort((a, b) => a - b);
  const out = subset(d, indices, `${d.name}[${classes.length} classes]`);
  for (let i = 0; i < out.labels.length; i++) out.labels[i] = position.get(out.labels[i])!;
  return { ...out, classes: classes.map((c) => d.classes[c]) };
}

/**
 * Student epochs for a memory of `images`: enough that the student sees `crops` crops (at least
 * one epoch), else the single-run default (defaultStudentEpochs). Never increases with the
 * memory's size, so a block's soft labels, made for the epochs of the step it arrived in, cover
 * every later step.
 */
export function memoryEpochs(images: number, crops?: number): number {
  if (crops === undefined) return defaultStudentEpochs(images);
  if (!(Number.isInteger(images) && images > 0)) throw new Error(`a memory needs at least one image, got ${images}`);
  return Math.max(1, Math.ceil(crops / images));
}
