// The crop schedule: random access and deterministic (same seed → same crops, different seed →
// different), boxes inside the image, area and ratio distributed as the parameters say, and
// crop-and-resize as interpolation matrices that reproduce the identity crop exactly.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  batchOrder,
  cropFor,
  cropResize,
  defaultCropSchedule,
  interpolationMatrix,
  inverseOrder,
  mixedCrop,
  mixFor,
  CropScheduleError,
} from "../../shared/crop-schedule/index.ts";

const params = (seed: number, extra = {}) => defaultCropSchedule({ seed, sourceSize: 32, outputSize: 24, ...extra });

describe("batch order", () => {
  it("is a permutation, reproducible, different across epochs and seeds, with its inverse", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 2, max: 300 }),
        (seed, epoch, n) => {
          const o = batchOrder(seed, epoch, n);
          expect([...o].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(batchOrder(seed, epoch, n)).toEqual(o);
          const inv = inverseOrder(o);
          for (let s = 0; s < n; s++) expect(inv[o[s]]).toBe(s);
        },
      ),
      { numRuns: 50 },
    );
    expect(batchOrder(1, 0, 100)).not.toEqual(batchOrder(2, 0, 100));
    expect(batchOrder(1, 0, 100)).not.toEqual(batchOrder(1, 1, 100));
  });
});

describe("RandomResizedCrop boxes", () => {
  it("are reproducible per (seed, epoch, image, crop) in any order, and differ across seeds", () => {
    const p = params(7);
    const forward = Array.from({ length: 50 }, (_, i) => cropFor(p, 3, i));
    const backward = Array.from({ length: 50 }, (_, i) => cropFor(p, 3, 49 - i)).reverse();
    expect(backward).toEqual(forward);
    const other = Array.from({ length: 50 }, (_, i) => cropFor(params(8), 3, i));
    expect(other).not.toEqual(forward);
    expect(cropFor(p, 3, 0, 1)).not.toEqual(cropFor(p, 3, 0, 0));
  });

  it("lie inside the image, with area and ratio in range", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1e5 }),
        (seed, epoch, image) => {
          const p = params(seed, { scale: [0.2, 0.9] });
          const b = cropFor(p, epoch, image);
          expect(b.x).toBeGreaterThanOrEqual(0);
          expect(b.y).toBeGreaterThanOrEqual(0);
          expect(b.x + b.w).toBeLessThanOrEqual(32);
          expect(b.y + b.h).toBeLessThanOrEqual(32);
          expect(Number.isInteger(b.x + b.y + b.w + b.h)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("draw area and log-ratio uniformly over the parameter ranges (statistically)", () => {
    const p = defaultCropSchedule({ seed: 3, sourceSize: 224, flipProb: 0.5 });
    const n = 4000;
    let area = 0,
      logRatio = 0,
      flips = 0;
    for (let i = 0; i < n; i++) {
      const b = cropFor(p, 0, i);
      area += (b.w * b.h) / (224 * 224);
      logRatio += Math.log(b.w / b.h);
      flips += b.flip ? 1 : 0;
    }
    // Uniform area on [0.08, 1] has mean 0.54 (slightly lower: large-area tries are rejected more often).
    expect(area / n).toBeGreaterThan(0.45);
    expect(area / n).toBeLessThan(0.56);
    expect(Math.abs(logRatio / n)).toBeLessThan(0.03);
    expect(Math.abs(flips / n - 0.5)).toBeLessThan(0.03);
  });

  it("rejects bad parameters naming the field", () => {
    expect(() => defaultCropSchedule({ seed: -1, sourceSize: 8 })).toThrow(CropScheduleError);
    expect(() => defaultCropSchedule({ seed: 1, sourceSize: 8, scale: [0.9, 0.1] })).toThrow(/scale/);
    expect(() => defaultCropSchedule({ seed: 1, sourceSize: 8, flipProb: 2 })).toThrow(/flipProb/);
    expect(() => defaultCropSchedule({ seed: 1, sourceSize: 8, mix: { kind: "cutmix", alpha: 0, prob: 1 } })).toThrow(
      /alpha/,
    );
  });
});

describe("interpolation matrices", () => {
  it("rows sum to 1 and the identity crop reproduces the image; flips reverse columns", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 39 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        (src, start, len, out) => {
          fc.pre(start + len <= src);
          const m = interpolationMatrix(src, start, len, out);
          for (let o = 0; o < out; o++) {
            let s = 0;
            for (let x = 0; x < src; x++) s += m[o * src + x];
            expect(s).toBeCloseTo(1, 5);
          }
        },
      ),
    );
    const img = Float32Array.from({ length: 2 * 6 * 6 }, (_, i) => Math.sin(i));
    const same = cropResize(img, 2, 6, 6, { x: 0, y: 0, w: 6, h: 6, flip: false }, 6);
    expect(
      Array.from(same)
        .map((v, i) => Math.abs(v - img[i]))
        .every((d) => d < 1e-6),
    ).toBe(true);
    const flipped = cropResize(img, 2, 6, 6, { x: 0, y: 0, w: 6, h: 6, flip: true }, 6);
    expect(flipped[0]).toBeCloseTo(img[5], 6);
    expect(flipped[6 * 6 + 7]).toBeCloseTo(img[6 * 6 + 10], 6);
    expect(() => interpolationMatrix(10, 8, 4, 5)).toThrow(RangeError);
  });

  it("a 2× upsample of a crop interpolates between pixels", () => {
    const m = interpolationMatrix(4, 1, 2, 4);
    // Output samples at crop coordinates -0.25, 0.25, 0.75, 1.25 → clamped / blended between source 1 and 2.
    expect(Array.from(m.subarray(0, 4))).toEqual([0, 1, 0, 0]);
    expect(m[4 + 1]).toBeCloseTo(0.75);
    expect(m[4 + 2]).toBeCloseTo(0.25);
  });
});

describe("CutMix and Mixup per slot", () => {
  it("is reproducible, keeps λ in [0, 1] and matches the pasted box", () => {
    const p = params(5, { mix: { kind: "cutmix", alpha: 1, prob: 1 } });
    for (let s = 0; s < 40; s++) {
      const m = mixFor(p, 2, s, 40)!;
      expect(mixFor(p, 2, s, 40)).toEqual(m);
      expect(m.lambda).toBeGreaterThanOrEqual(0);
      expect(m.lambda).toBeLessThanOrEqual(1);
      expect(m.partnerImage).toBeLessThan(40);
      const pasted = m.box ? m.box.w * m.box.h : 0;
      expect(m.lambda).toBeCloseTo(1 - pasted / (24 * 24), 6);
    }
    expect(mixFor(params(5), 2, 0, 40)).toBeNull();
  });

  it("the mixed crop is the own crop outside the box and the partner's inside", () => {
    const p = params(9, {
      mix: { kind: "cutmix", alpha: 1, prob: 1 },
      outputSize: 32,
      scale: [1, 1],
      ratio: [1, 1],
      flipProb: 0,
    });
    const images = [new Float32Array(32 * 32).fill(0.25), new Float32Array(32 * 32).fill(0.75)];
    for (let slot = 0; slot < 2; slot++) {
      const m = mixFor(p, 0, slot, 2)!;
      const own = batchOrder(9, 0, 2)[slot];
      const crop = mixedCrop(p, 0, slot, 2, (i) => images[i], 1);
      const inBox = (x: number, y: number) =>
        !!m.box && x >= m.box.x && x < m.box.x + m.box.w && y >= m.box.y && y < m.box.y + m.box.h;
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          expect(crop[y * 32 + x]).toBeCloseTo(inBox(x, y) ? images[m.partnerImage][0] : images[own][0], 5);
        }
    }
  });

  it("Mixup blends with weight λ", () => {
    const p = params(4, {
      mix: { kind: "mixup", alpha: 0.8, prob: 1 },
      outputSize: 32,
      scale: [1, 1],
      ratio: [1, 1],
      flipProb: 0,
    });
    const images = [new Float32Array(32 * 32).fill(0), new Float32Array(32 * 32).fill(1)];
    const m = mixFor(p, 1, 0, 2)!;
    const own = batchOrder(4, 1, 2)[0];
    const crop = mixedCrop(p, 1, 0, 2, (i) => images[i], 1);
    expect(crop[100]).toBeCloseTo(m.lambda * own + (1 - m.lambda) * m.partnerImage, 5);
  });
});
