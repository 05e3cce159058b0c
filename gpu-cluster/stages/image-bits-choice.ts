// `--image-bits auto`: how few grey levels the data tolerates, decided from the data and the
// teacher, never from a dataset's name. The teacher classifies held-out training images as they
// are and quantised; fewer bits are chosen where they cost it at most IMAGE_BITS_TOLERANCE of
// top-1 (Fashion-MNIST's 64-wide teacher: 4 bits −0.22 pt, 2 bits −4.2 pt; docs/ablations.md).
import { quantiseBytes, quantisePixels, type ImageBits } from "../../shared/image-bits.ts";
import type { Dataset } from "../data/dataset.ts";
import type { ChannelStats } from "../data/stats.ts";
import { topOneAccuracy, type Predict } from "./accuracy.ts";

/** The depths auto tries, fewest bits first (2 bits lost to 4 in students on Fashion-MNIST IPC 1). */
export const AUTO_IMAGE_BITS: readonly ImageBits[] = [4];

/** Top-1 the teacher may lose on quantised images for their depth to be chosen: half a point. */
export const IMAGE_BITS_TOLERANCE = 0.005;

/** `d` with every pixel at the nearest of 2^bits levels (its pixel type kept). */
export function quantisedDataset(d: Dataset, bits: ImageBits): Dataset {
  const images = d.images instanceof Uint8Array ? quantiseBytes(d.images, bits) : quantisePixels(d.images, bits);
  return { ...d, images, name: `${d.name}@${bits}bit` };
}

export interface ImageBitsChoice {
  bits: ImageBits;
  /** The teacher's top-1 on the held-out images at each depth tried, 8 included. */
  accuracy: Partial<Record<ImageBits, number>>;
  images: number;
}

/** The fewest bits of `depths` whose quantised images cost the teacher at most the tolerance; else 8. */
export async function chooseImageBits(
  teacher: Predict,
  heldOut: Dataset,
  stats: ChannelStats,
  {
    tolerance = IMAGE_BITS_TOLERANCE,
    depths = AUTO_IMAGE_BITS,
  }: { tolerance?: number; depths?: readonly ImageBits[] } = {},
): Promise<ImageBitsChoice> {
  const accuracy: Partial<Record<ImageBits, number>> = { 8: await topOneAccuracy(teacher, heldOut, stats) };
  for (const bits of depths) {
    accuracy[bits] = await topOneAccuracy(teacher, quantisedDataset(heldOut, bits), stats);
    if (accuracy[bits]! >= accuracy[8]! - tolerance) return { bits, accuracy, images: heldOut.labels.length };
  }
  return { bits: 8, accuracy, images: heldOut.labels.length };
}
