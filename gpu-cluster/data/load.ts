// The one entry point for `--data`: nothing → embedded MNIST; a folder of IDX files → IDX;
// a folder of class folders (optionally under train/ and val/) → image folder.
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { DatasetSplits } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { findIdxFiles, loadIdxFolder } from "./idx-dataset.ts";
import { isImageFolder, loadImageFolder, type ImageFolderOptions } from "./image-folder.ts";
import { loadMnist } from "./mnist.ts";

export type LoadOptions = ImageFolderOptions;

export function loadDataset(path?: string, opts: LoadOptions = {}): DatasetSplits {
  if (path === undefined || path === "" || path === "mnist") return loadMnist();
  const dir = resolve(path);
  if (!existsSync(dir)) throw new DataError("NOT_FOUND", dir, "--data path does not exist");
  if (!statSync(dir).isDirectory()) {
    throw new DataError(
      "UNKNOWN_LAYOUT",
      dir,
      "--data must be a folder (of IDX files, or of one sub-folder of images per class)",
    );
  }
  const name = basename(dir);
  if (findIdxFiles(dir)) return loadIdxFolder(dir, name);
  if (isImageFolder(dir)) return loadImageFolder(dir, opts, name);
  throw new DataError(
    "UNKNOWN_LAYOUT",
    dir,
    "neither an IDX folder (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...) nor an image folder (one sub-folder of PNG/JPEG images per class)",
  );
}
