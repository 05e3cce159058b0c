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
  const rng = new Random(seed, stream);
  const sources = indicesByClass(d).flatMap((pool, c) => {
    if (pool.length < ipc)
      throw new Error(
        `${d.name}: class '${d.classes[c]}' has ${pool.length} images, fewer than the ${ipc} per class drawn`,
      );
    return (rng.shuffle([...pool]) as number[]).slice(0, ipc);
  });
  return realImagesAt(d, sources);
}

/** The dataset's images at `sources` (indices into it), in that order, scaled to [0, 1]. */
export function realImagesAt(d: Dataset, sources: number[]): RealSubset {
  const per = pixelsPerImage(d);
  const pixels = new Float32Array(sources.length * per);
  const labels = new Int32Array(sources.length);
  const s = pixelScale(d.images);
  sources.forEach((src, i) => {
    if (!(Number.isInteger(src) && src >= 0 && src < d.labels.length))
      throw new Error(`${d.name}: no image ${src} (it has ${d.labels.length})`);
    for (let q = 0; q < per; q++) pixels[i * per + q] = d.images[src * per + q] * s;
    labels[i] = d.labels[src];
  });
  return { pixels, labels, sources: [...sources], count: sources.length, channels: d.channels, size: d.height };
}
