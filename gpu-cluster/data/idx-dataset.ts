// A folder of IDX files (MNIST layout): train-images, train-labels, t10k-images, t10k-labels,
// gzip-compressed or not, with '-' or '.' before "idx" as the various mirrors spell it.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Dataset, DatasetSplits } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { readIdx } from "./idx.ts";

const IDX_NAME = /^(train|t10k|test)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$/;

export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  valImages: string;
  valLabels: string;
}

/** Finds the four IDX files in `dir`; returns undefined when the folder holds none of them. */
export function findIdxFiles(dir: string): IdxFiles | undefined {
  const found: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const m = IDX_NAME.exec(f);
    if (!m) continue;
    const split = m[1] === "train" ? "train" : "val";
    found[`${split}-${m[2]}`] = join(dir, f);
  }
  if (Object.keys(found).length === 0) return undefined;
  const need = ["train-images", "train-labels", "val-images", "val-labels"];
  const missing = need.filter((k) => !(k in found));
  if (missing.length > 0) {
    const names = missing.map(
      (k) => k.replace("val-", "t10k-") + "-idx" + (k.endsWith("images") ? "3" : "1") + "-ubyte[.gz]",
    );
    throw new DataError("NOT_FOUND", dir, `IDX folder lacks ${names.join(", ")}`);
  }
  return {
    trainImages: found["train-images"],
    trainLabels: found["train-labels"],
    valImages: found["val-images"],
    valLabels: found["val-labels"],
  };
}

function loadPair(imagesFile: string, labelsFile: string, name: string, classNames?: string[]): Dataset {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length !== 3) {
    throw new DataError(
      "BAD_HEADER",
      imagesFile,
      `image file has rank ${images.dims.length}; expected 3 (count × height × width)`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DataError("BAD_HEADER", labelsFile, `label file has rank ${labels.dims.length}; expected 1 (count)`);
  }
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new DataError(
      "COUNT_MISMATCH",
      labelsFile,
      `${labels.dims[0]} labels for ${n} images in ${basename(imagesFile)}; the two files must come from the same release`,
    );
  }
  if (n === 0) throw new DataError("BAD_HEADER", imagesFile, "holds no images");
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) lab[i] = labels.data[i];
  return { images: images.data, labels: lab, classes: classNames ?? [], channels: 1, height: h, width: w, name };
}

/** Loads an IDX folder as train/val splits (train = train-*, val = t10k-*). */
export function loadIdxFolder(dir: string, name: string = basename(dir)): DatasetSplits {
  const files = findIdxFiles(dir);
  if (!files) throw new DataError("NOT_FOUND", dir, "no IDX files (train-images-idx3-ubyte, ...) in this folder");
  const classNames = readClassNames(dir);
  const train = loadPair(files.trainImages, files.trainLabels, `${name}/train`, classNames);
  const val = loadPair(files.valImages, files.valLabels, `${name}/val`, classNames);
  if (train.height !== val.height || train.width !== val.width) {
    throw new DataError(
      "COUNT_MISMATCH",
      files.valImages,
      `val images are ${val.height}×${val.width} but train images are ${train.height}×${train.width}`,
    );
  }
  let maxLabel = 0;
  for (const l of train.labels) maxLabel = Math.max(maxLabel, l);
  const classes = classNames ?? Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  for (const [d, file] of [
    [train, files.trainLabels],
    [val, files.valLabels],
  ] as const) {
    for (let i = 0; i < d.labels.length; i++) {
      if (d.labels[i] >= classes.length) {
        throw new DataError(
          "BAD_LABEL",
          file,
          `label ${d.labels[i]} at index ${i} is outside the ${classes.length} classes`,
        );
      }
    }
    d.classes = classes;
  }
  return { train, val, source: dir, format: "idx" };
}

/** Optional `classes.txt` beside the IDX files: one class name per line, in label order. */
function readClassNames(dir: string): string[] | undefined {
  const file = join(dir, "classes.txt");
  if (!existsSync(file)) return undefined;
  const names = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return names.length > 0 ? names : undefined;
}
