// What squeeze decides from the data alone: the held-out split it picks the teacher's epoch on
// (carved from train, stratified, nothing of the test set in it) and whether a horizontal flip
// is label-preserving (the mirror asymmetry of the class means: MNIST says no, a generated
// mirror-symmetric dataset says yes).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  FLIP_THRESHOLD,
  defaultAugment,
  indicesByClass,
  loadMnist,
  mirrorAsymmetry,
  pixelsPerImage,
  validationSplit,
  type Dataset,
} from "../../gpu-cluster/data/index.ts";
import { generated } from "./generated.ts";

const hashes = (d: Dataset): string[] => {
  const p = pixelsPerImage(d);
  return Array.from(d.labels, (_, i) =>
    createHash("sha1")
      .update(d.images.subarray(i * p, (i + 1) * p))
      .digest("hex"),
  );
};

describe("validation split", () => {
  const { train, val: test } = loadMnist();
  const split = validationSplit(train, 0)!;

  it("holds out 1/12 of MNIST train (5 000), stratified, seeded", () => {
    expect(split.fit.labels.length + split.holdout.labels.length).toBe(60000);
    expect(Math.abs(split.holdout.labels.length - 5000)).toBeLessThanOrEqual(5);
    const all = indicesByClass(train).map((c) => c.length);
    indicesByClass(split.holdout).forEach((c, k) => expect(Math.abs(c.length - all[k] / 12)).toBeLessThanOrEqual(0.5));
    expect(validationSplit(train, 0)!.holdout.labels).toEqual(split.holdout.labels);
    expect(validationSplit(train, 1)!.holdout.images).not.toEqual(split.holdout.images);
  });

  it("is a part of train and shares no image with the test set", () => {
    const testSet = new Set(hashes(test));
    const held = hashes(split.holdout);
    expect(held.filter((h) => testSet.has(h))).toEqual([]);
    // fit ∪ holdout is exactly train (as a multiset of images): nothing came from elsewhere.
    expect([...hashes(split.fit), ...held].sort()).toEqual(hashes(train).sort());
  });

  it("holds nothing out when there is under one image per class to spare", () => {
    expect(validationSplit(generated(true), 0)).toBeDefined(); // 160 images: 13 held out
    const small = { ...generated(true), labels: Int32Array.from({ length: 40 }, (_, i) => i % 4) };
    expect(validationSplit(small, 0)).toBeUndefined(); // 40 / 12 = 3 < 4 classes
  });
});

describe("flip decision (mirror asymmetry of the class means)", () => {
  it("MNIST: no flip (digits are not mirror-symmetric)", () => {
    const m = mirrorAsymmetry(loadMnist().train);
    expect(m.flip).toBe(false);
    expect(m.median).toBeGreaterThan(0.6); // measured 0.77
    expect(m.perClass.every((r) => r > FLIP_THRESHOLD)).toBe(true);
    expect(defaultAugment(loadMnist().train)).toEqual({ pad: 2, flip: false });
  });

  it("a generated mirror-symmetric dataset: flip; the same without symmetry: no flip", () => {
    const sym = mirrorAsymmetry(generated(true));
    expect(sym.flip).toBe(true);
    expect(sym.median).toBeLessThan(0.25); // only the noise of 40-image means is asymmetric (0.15)
    const asym = mirrorAsymmetry(generated(false));
    expect(asym.flip).toBe(false);
    expect(asym.median).toBeGreaterThan(0.8);
    expect(defaultAugment(generated(true))).toEqual({ pad: 1, flip: true }); // 16 px: 1/16 of the side
  });

  it("a class that mirrors onto another class (left vs right) is not flip-safe", () => {
    const d = generated(false);
    const S = 16;
    // class 1 := mirror of class 0's images: the classes differ only by orientation.
    const p = S * S;
    for (let i = 0; i < d.labels.length; i++) {
      if (d.labels[i] !== 1) continue;
      const src = (i - 1) * p; // the class-0 image just before
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) d.images[i * p + y * S + x] = d.images[src + y * S + S - 1 - x];
    }
    const m = mirrorAsymmetry(d);
    expect(m.perClass[0]).toBeGreaterThan(0.8);
    expect(m.flip).toBe(false);
  });
});
