// Small generated datasets for tests of what squeeze decides from the data.
import { Random, subset, type Dataset, type DatasetSplits } from "../../gpu-cluster/data/index.ts";

/** 4 classes × `per` images of 16×16 gray, a class template plus noise; `symmetric` mirrors each template onto itself. */
export function generated(symmetric: boolean, seed = 3, per = 40): Dataset {
  const S = 16,
    K = 4;
  const rng = new Random(seed, "generated");
  const templates = Array.from({ length: K }, () => {
    const t = Float32Array.from({ length: S * S }, () => rng.next());
    if (symmetric) for (let y = 0; y < S; y++) for (let x = 0; x < S / 2; x++) t[y * S + S - 1 - x] = t[y * S + x];
    return t;
  });
  const images = new Float32Array(K * per * S * S);
  const labels = new Int32Array(K * per);
  for (let i = 0; i < K * per; i++) {
    labels[i] = i % K;
    for (let j = 0; j < S * S; j++)
      images[i * S * S + j] = Math.min(1, Math.max(0, templates[i % K][j] + 0.3 * rng.normal()));
  }
  return {
    images,
    labels,
    classes: ["a", "b", "c", "d"],
    channels: 1,
    height: S,
    width: S,
    name: symmetric ? "symmetric" : "asymmetric",
  };
}

/**
 * Train/test splits of the generated templates for squeeze tests: 4 classes × 100 images, the
 * first 320 to train on (squeeze holds some of them out), the last 80 as the test set; with
 * `scrambleTest` the test labels are wrong, which must change reported scores and no choice.
 */
export function generatedSplits(scrambleTest = false): DatasetSplits {
  const all = generated(true, 3, 100);
  const test = subset(
    all,
    Array.from({ length: 80 }, (_, i) => 320 + i),
    "generated/test",
  );
  if (scrambleTest) test.labels = test.labels.map((y) => (y + 1) % 4);
  return {
    train: subset(
      all,
      Array.from({ length: 320 }, (_, i) => i),
      "generated/train",
    ),
    val: test,
    source: "generated",
    format: "image-folder",
  };
}
