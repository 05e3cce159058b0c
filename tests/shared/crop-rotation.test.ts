// Turned crops (crop schedule `rotate`): schedules without it are unchanged (keys and boxes), the
// angles are drawn over [−rotate, rotate] and reproducible, a turn by 90° or 180° permutes the
// pixels exactly, a vanishing turn is the separable crop, and any turned crop equals PyTorch's
// affine_grid + grid_sample (bilinear, border padding) in float64.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  cropFor,
  cropResize,
  defaultCropSchedule,
  sampledCropMatrixT,
  type CropBox,
} from "../../shared/crop-schedule/index.ts";
import { INSTALL_HINT, runPython, torchGate } from "../engine/pytorch.ts";

const image = (c: number, h: number, w: number, seed: number) =>
  Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 0.5 + 0.5);

describe("crop schedule rotate", () => {
  it("is absent unless set: the schedule object and its boxes are as before", () => {
    const plain = defaultCropSchedule({ seed: 3, sourceSize: 28 });
    const zero = defaultCropSchedule({ seed: 3, sourceSize: 28, rotate: 0 });
    expect(zero).toEqual(plain);
    expect("rotate" in zero).toBe(false);
    for (let i = 0; i < 20; i++) expect(cropFor(zero, 1, i)).not.toHaveProperty("angle");
    // the turn is one more draw: the box itself stays the one the unturned schedule gives
    const turned = defaultCropSchedule({ seed: 3, sourceSize: 28, rotate: 30 });
    for (let i = 0; i < 20; i++) {
      const { angle, ...box } = cropFor(turned, 1, i);
      expect(box).toEqual(cropFor(plain, 1, i));
      expect(Math.abs(angle!)).toBeLessThanOrEqual(30);
    }
  });

  it("draws angles uniformly over [−rotate, rotate], reproducibly per (seed, epoch, image, crop)", () => {
    const p = defaultCropSchedule({ seed: 11, sourceSize: 32, rotate: 45 });
    const angles = Array.from({ length: 4000 }, (_, i) => cropFor(p, 2, i).angle!);
    expect(Math.min(...angles)).toBeGreaterThanOrEqual(-45);
    expect(Math.max(...angles)).toBeLessThanOrEqual(45);
    expect(Math.min(...angles)).toBeLessThan(-44);
    expect(Math.max(...angles)).toBeGreaterThan(44);
    const mean = angles.reduce((a, b) => a + b, 0) / angles.length;
    expect(Math.abs(mean)).toBeLessThan(1.5); // sd of the mean: 45/√3/√4000 ≈ 0.41
    const meanSquare = angles.reduce((a, b) => a + b * b, 0) / angles.length;
    expect(meanSquare).toBeCloseTo((45 * 45) / 3, -2);
    expect(cropFor(p, 2, 17)).toEqual(cropFor(p, 2, 17));
    expect(cropFor(p, 2, 17, 1).angle).not.toBe(cropFor(p, 2, 17, 0).angle);
    expect(cropFor(p, 3, 17).angle).not.toBe(cropFor(p, 2, 17).angle);
  });

  it("refuses a rotation outside [0, 180] degrees, naming the field", () => {
    for (const rotate of [-1, 181, Number.NaN])
      expect(() => defaultCropSchedule({ seed: 1, sourceSize: 8, rotate })).toThrow(/rotate must be in \[0, 180\]/);
  });

  it("turns a whole square image by 90° and 180° exactly (a permutation of its pixels)", () => {
    const n = 7;
    const img = image(2, n, n, 1);
    const whole = { x: 0, y: 0, w: n, h: n, flip: false };
    const r90 = cropResize(img, 2, n, n, { ...whole, angle: 90 }, n);
    const r180 = cropResize(img, 2, n, n, { ...whole, angle: 180 }, n);
    const r180flip = cropResize(img, 2, n, n, { ...whole, angle: 180, flip: true }, n);
    for (let c = 0; c < 2; c++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const at = c * n * n + y * n + x;
          // sampling grid turned by +90°: output (x, y) reads the source at (n−1−y, x)
          expect(r90[at]).toBeCloseTo(img[c * n * n + x * n + (n - 1 - y)], 5);
          expect(r180[at]).toBeCloseTo(img[c * n * n + (n - 1 - y) * n + (n - 1 - x)], 5);
          // flipped after the turn: only the rows stay reversed
          expect(r180flip[at]).toBeCloseTo(img[c * n * n + (n - 1 - y) * n + x], 5);
        }
  });

  it("a vanishing turn is the separable crop; values stay within the image's range", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 24 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        fc.boolean(),
        (size, seed, angle, flip) => {
          const img = image(1, size, size, seed);
          const p = defaultCropSchedule({ seed, sourceSize: size, scale: [0.3, 1] });
          const box = cropFor(p, 0, 0);
          const out = Math.max(1, Math.min(box.w, box.h) - 1); // downscaling: no sample outside the box
          const straight = cropResize(img, 1, size, size, { ...box, flip }, out);
          const almost = cropResize(img, 1, size, size, { ...box, flip, angle: 1e-9 }, out);
          for (let i = 0; i < straight.length; i++) expect(almost[i]).toBeCloseTo(straight[i], 5);
          const turned = cropResize(img, 1, size, size, { ...box, flip, angle }, out);
          const [lo, hi] = [Math.min(...img), Math.max(...img)];
          for (const v of turned) expect(v >= lo - 1e-6 && v <= hi + 1e-6).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the sampling matrix Mᵀ gives the crop as X · Mᵀ, also when rewritten in place step after step", () => {
    const size = 12,
      out = 9;
    const img = image(1, size, size, 5);
    const p = defaultCropSchedule({ seed: 3, sourceSize: size, scale: [0.3, 1], rotate: 40 });
    const reused = new Float32Array(size * size * out * out);
    for (let step = 0; step < 4; step++) {
      const box = cropFor(p, step, 0);
      const m = sampledCropMatrixT(size, size, box, out, out, reused);
      expect(m).toBe(reused);
      expect(Array.from(m)).toEqual(Array.from(sampledCropMatrixT(size, size, box, out, out)));
      const want = cropResize(img, 1, size, size, box, out);
      for (let j = 0; j < out * out; j++) {
        let v = 0;
        for (let i = 0; i < size * size; i++) v += img[i] * m[i * out * out + j];
        expect(v).toBeCloseTo(want[j], 5);
      }
    }
    expect(() => sampledCropMatrixT(size, size, cropFor(p, 0, 0), out, out, new Float32Array(7))).toThrow(/7 floats/);
  });
});

const gate = torchGate("turned crops against PyTorch's grid_sample");
const dir = mkdtempSync(join(tmpdir(), "crop-rotation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The same crops as an affine map of normalised coordinates (torch's convention, align_corners
// false): output [-1, 1]² → the box's extent about its centre, turned, in the image's [-1, 1]².
const TORCH = `
import json, math, sys, torch
import torch.nn.functional as F
d = json.load(open(sys.argv[1]))
C, H, W = d["shape"]
img = torch.tensor(d["image"], dtype=torch.float64).reshape(1, C, H, W)
outs = []
for b in d["boxes"]:
    t = math.radians(b["angle"])
    cx, cy = 2 * (b["x"] + b["w"] / 2) / W - 1, 2 * (b["y"] + b["h"] / 2) / H - 1
    theta = torch.tensor([[[math.cos(t) * b["w"] / W, -math.sin(t) * b["h"] / W, cx],
                           [math.sin(t) * b["w"] / H, math.cos(t) * b["h"] / H, cy]]], dtype=torch.float64)
    grid = F.affine_grid(theta, (1, C, d["outH"], d["outW"]), align_corners=False)
    y = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if b["flip"]:
        y = y.flip(3)
    outs.append(y.flatten().tolist())
print(json.dumps(outs))
`;

if (gate.failInCi) {
  it("turned crops against PyTorch need PyTorch", () => {
    throw new Error(`${gate.missing}: under CI this test must run; ${INSTALL_HINT}`);
  });
}

describe.skipIf(gate.missing !== null)("turned crops against PyTorch (affine_grid + grid_sample, float64)", () => {
  it("random boxes, angles, flips and output sizes on a 3-channel 20×20 image", () => {
    const [C, H, W] = [3, 20, 20];
    const img = image(C, H, W, 5);
    const p = defaultCropSchedule({ seed: 21, sourceSize: W, scale: [0.1, 1], flipProb: 0.5, rotate: 180 });
    const boxes: CropBox[] = Array.from({ length: 40 }, (_, i) => cropFor(p, 0, i));
    const [outH, outW] = [13, 13];
    const file = join(dir, "boxes.json");
    writeFileSync(file, JSON.stringify({ shape: [C, H, W], image: Array.from(img), boxes, outH, outW }));
    const ref = JSON.parse(runPython(["-c", TORCH, file])) as number[][];
    boxes.forEach((box, i) => {
      const ours = cropResize(img, C, H, W, box, outH);
      let worst = 0;
      for (let j = 0; j < ours.length; j++) worst = Math.max(worst, Math.abs(ours[j] - ref[i][j]));
      expect(worst, `box ${JSON.stringify(box)}`).toBeLessThan(1e-5);
    });
  }, 60_000);
});
