// An image folder dataset: one sub-folder per class holding PNG/JPEG files, every image resized
// to one resolution and converted to one channel count. Splits come from `train/` and `val/`
// sub-folders when both exist, else from a seeded stratified split.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Dataset, DatasetSplits } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { decodeImage, naturalChannels } from "./image-decode.ts";
import { resizeBilinear } from "./resize.ts";
import { stratifiedSplit } from "./split.ts";

const IMAGE_EXT = /\.(png|jpe?g)$/i;

export interface ImageFolderOptions {
  /** Output resolution; default: the first image's size. */
  height?: number;
  width?: number;
  /** 1 (grayscale) or 3 (RGB); default: 3 if the first image has colour, else 1. */
  channels?: number;
  /** Val fraction of the seeded split when there are no train/ and val/ folders (default 0.2). */
  valFraction?: number;
  seed?: number;
  /** Called after each image decoded, for progress bars. */
  onImage?: (done: number, total: number) => void;
}

function subdirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith(".") && statSync(join(dir, f)).isDirectory())
    .sort();
}

function imageFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith(".") && IMAGE_EXT.test(f))
    .sort();
}

/** True when `dir` looks like an image folder (class sub-folders holding images, possibly under train/). */
export function isImageFolder(dir: string): boolean {
  const root = existsSync(join(dir, "train")) && statSync(join(dir, "train")).isDirectory() ? join(dir, "train") : dir;
  return subdirs(root).some((c) => imageFiles(join(root, c)).length > 0);
}

/** Reads one class-per-folder tree (no split) into a dataset with the given class order. */
function readTree(
  root: string,
  classes: string[],
  name: string,
  opts: Required<Pick<ImageFolderOptions, "height" | "width" | "channels">> & ImageFolderOptions,
  progress: { done: number; total: number },
): Dataset {
  const perClass = classes.map((c) => {
    const dir = join(root, c);
    if (!existsSync(dir))
      throw new DataError("EMPTY_CLASS", dir, `class folder '${c}' is missing here but present in the train folder`);
    const files = imageFiles(dir);
    if (files.length === 0)
      throw new DataError("EMPTY_CLASS", dir, `class folder '${c}' holds no .png/.jpg/.jpeg images`);
    return files.map((f) => join(dir, f));
  });
  const n = perClass.reduce((a, f) => a + f.length, 0);
  const { channels, height, width } = opts;
  const per = channels * height * width;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  let i = 0;
  perClass.forEach((files, label) => {
    for (const file of files) {
      const img = decodeImage(readFileSync(file), file, channels);
      const px = resizeBilinear(img.data, channels, img.height, img.width, height, width);
      for (let j = 0; j < per; j++) images[i * per + j] = Math.min(255, Math.max(0, Math.round(px[j] * 255)));
      labels[i++] = label;
      opts.onImage?.(++progress.done, progress.total);
    }
  });
  return { images, labels, classes, channels, height, width, name };
}

function countImages(root: string, classes: string[]): number {
  return classes.reduce((a, c) => a + (existsSync(join(root, c)) ? imageFiles(join(root, c)).length : 0), 0);
}

export function loadImageFolder(
  dir: string,
  opts: ImageFolderOptions = {},
  name: string = basename(dir),
): DatasetSplits {
  if (!existsSync(dir)) throw new DataError("NOT_FOUND", dir, "folder does not exist");
  const hasSplits = existsSync(join(dir, "train")) && existsSync(join(dir, "val"));
  const trainRoot = hasSplits ? join(dir, "train") : dir;
  const classes = subdirs(trainRoot);
  if (classes.length === 0)
    throw new DataError("UNKNOWN_LAYOUT", trainRoot, "no class sub-folders (expected one folder of images per class)");
  if (classes.length < 2)
    throw new DataError(
      "UNKNOWN_LAYOUT",
      trainRoot,
      `only one class folder ('${classes[0]}'); distillation needs at least two classes`,
    );
  for (const c of classes) {
    if (imageFiles(join(trainRoot, c)).length === 0) {
      throw new DataError("EMPTY_CLASS", join(trainRoot, c), `class folder '${c}' holds no .png/.jpg/.jpeg images`);
    }
  }
  const firstFile = join(trainRoot, classes[0], imageFiles(join(trainRoot, classes[0]))[0]);
  const first = decodeImage(readFileSync(firstFile), firstFile);
  const height = opts.height ?? first.height;
  const width = opts.width ?? opts.height ?? first.width;
  const channels = opts.channels ?? naturalChannels(first);
  for (const [k, v] of Object.entries({ height, width, channels })) {
    if (!Number.isInteger(v) || v < 1)
      throw new DataError("BAD_OPTION", dir, `${k} must be a positive integer, got ${v}`);
  }
  if (channels !== 1 && channels !== 3)
    throw new DataError("BAD_OPTION", dir, `channels must be 1 or 3, got ${channels}`);
  const full = { ...opts, height, width, channels };
  const progress = {
    done: 0,
    total: countImages(trainRoot, classes) + (hasSplits ? countImages(join(dir, "val"), classes) : 0),
  };
  if (hasSplits) {
    const train = readTree(trainRoot, classes, `${name}/train`, full, progress);
    const val = readTree(join(dir, "val"), classes, `${name}/val`, full, progress);
    return { train, val, source: dir, format: "image-folder" };
  }
  const all = readTree(dir, classes, `${name}/all`, full, progress);
  const { train, val } = stratifiedSplit(all, opts.valFraction ?? 0.2, opts.seed ?? 0);
  return { train, val, source: dir, format: "image-folder" };
}
