// Baselines (a) and (b) start from a random real subset with the same number of images per
// class as the distilled set, laid out the same way (image i has class floor(i / ipc)).
import { Random, indicesByClass, pixelScale, pixelsPerImage, type Dataset } from "../data/index.ts";
import type { ImageSet } from "./crops.ts";

/** Real images in class blocks, with their classes and their indices into the dataset. */
export type RealSubset = ImageSet & { labels: Int32Array; sources: number[] };

export function randomRealSubset(
  d: Dataset,
  ipc: number,
  seed: number,
  /** Another stream of the same seed: the recover gate's further draws (draw-2, …). */
  stream = "random-subset",
): RealSubset {
  const byClass = indicesByClass(d);
  const per = pixelsPerImage(d);
  const K = d.classes.length;
  const pixels = new Float32Array(K * ipc * per);
  const labels = new Int32Array(K * ipc);
  const sources: number[] = [];
  const s = pixelScale(d.images);
  const rng = new Random(seed, stream);
  byClass.forEach((pool, c) => {
    if (pool.length < ipc)
      throw new Error(`${d.name}: class '${d.classes[c]}' has ${pool.length} images, fewer than --ipc ${ipc}`);
    const picked = (rng.shuffle([...pool]) as number[]).slice(0, ipc);
    picked.forEach((src, j) => {
      const i = c * ipc + j;
      for (let q = 0; q < per; q++) pixels[i * per + q] = d.images[src * per + q] * s;
      labels[i] = c;
      sources.push(src);
    });
  });
  return { pixels, labels, sources, count: K * ipc, channels: d.channels, size: d.height };
}
