import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { afterAll, describe, expect, it } from "vitest";
import { DataError, decodeImage, loadDataset, loadImageFolder, resizeBilinear } from "../../gpu-cluster/data/index.ts";
import { encodePlanarPng } from "../../gpu-cluster/io/png.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "imgfolder-test-"));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Deterministic uint8 planar image, different per (class, index). */
function pattern(c: number, i: number, channels: number, h: number, w: number): Uint8Array {
  return Uint8Array.from({ length: channels * h * w }, (_, j) => (j * 7 + c * 53 + i * 11) & 255);
}

function writeClassFolder(root: string, classes: string[], perClass: number, channels: number, h: number, w: number) {
  classes.forEach((cls, c) => {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      writeFileSync(
        join(root, cls, `img${i}.png`),
        encodePlanarPng({ data: pattern(c, i, channels, h, w), channels, height: h, width: w }),
      );
    }
  });
}

function expectDataError(fn: () => unknown, code: string, fileFragment: string, message?: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).code).toBe(code);
    expect((e as DataError).message).toContain(fileFragment);
    if (message) expect((e as DataError).message).toMatch(message);
    return;
  }
  throw new Error(`expected DataError ${code}`);
}

describe("image folder loader", () => {
  it("round-trips PNG pixels exactly with train/ and val/ folders (RGB, no resize)", () => {
    const root = tmp();
    writeClassFolder(join(root, "train"), ["cat", "dog", "fox"], 4, 3, 6, 5);
    writeClassFolder(join(root, "val"), ["cat", "dog", "fox"], 2, 3, 6, 5);
    const d = loadDataset(root);
    expect(d.format).toBe("image-folder");
    expect(d.train.classes).toEqual(["cat", "dog", "fox"]);
    expect([d.train.channels, d.train.height, d.train.width]).toEqual([3, 6, 5]);
    expect(d.train.labels).toEqual(Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]));
    expect(d.val.labels.length).toBe(6);
    const per = 3 * 6 * 5;
    // Files are read in name order: train image 5 is dog/img1.png.
    expect(d.train.images.subarray(5 * per, 6 * per)).toEqual(pattern(1, 1, 3, 6, 5));
    expect(d.val.images.subarray(3 * per, 4 * per)).toEqual(pattern(1, 1, 3, 6, 5));
  });

  it("splits a flat folder with a seeded stratified split, same seed same split", () => {
    const root = tmp();
    writeClassFolder(root, ["a", "b"], 10, 1, 4, 4);
    const x = loadImageFolder(root, { valFraction: 0.3, seed: 7 });
    const y = loadImageFolder(root, { valFraction: 0.3, seed: 7 });
    const z = loadImageFolder(root, { valFraction: 0.3, seed: 8 });
    expect(x.val.labels).toEqual(Int32Array.from([0, 0, 0, 1, 1, 1]));
    expect(x.train.labels.length).toBe(14);
    expect(x.val.images).toEqual(y.val.images);
    expect(z.val.images).not.toEqual(x.val.images);
  });

  it("resizes to a set resolution and converts colour to gray (ITU-R 601 luma)", () => {
    const root = tmp();
    for (const [cls, rgb] of [
      ["red", [255, 0, 0]],
      ["white", [255, 255, 255]],
    ] as const) {
      mkdirSync(join(root, cls));
      const img = new Uint8Array(3 * 8 * 8);
      for (let c = 0; c < 3; c++) img.fill(rgb[c], c * 64, (c + 1) * 64);
      writeFileSync(join(root, cls, "x.png"), encodePlanarPng({ data: img, channels: 3, height: 8, width: 8 }));
      writeFileSync(join(root, cls, "y.png"), encodePlanarPng({ data: img, channels: 3, height: 8, width: 8 }));
    }
    const d = loadImageFolder(root, { height: 3, width: 5, channels: 1, valFraction: 0.5 });
    expect([d.train.channels, d.train.height, d.train.width]).toEqual([1, 3, 5]);
    expect(new Set(d.train.images.subarray(0, 15))).toEqual(new Set([Math.round(0.299 * 255)]));
    expect(new Set(d.train.images.subarray(15, 30))).toEqual(new Set([255]));
  });

  it("decodes JPEG within compression error and expands gray to RGB on request", () => {
    const w = 16,
      h = 16;
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([(p % w) * 16, 128, 200, 255], p * 4);
    const bytes = jpeg.encode({ data: rgba, width: w, height: h }, 95).data;
    const img = decodeImage(bytes, "x.jpg");
    expect(img.channels).toBe(3);
    let err = 0;
    for (let p = 0; p < w * h; p++)
      err = Math.max(err, Math.abs(img.data[p] - ((p % w) * 16) / 255), Math.abs(img.data[512 + p] - 200 / 255));
    expect(err).toBeLessThan(0.08);
    const gray = encodePlanarPng({ data: new Uint8Array(4).fill(77), channels: 1, height: 2, width: 2 });
    const rgb = decodeImage(gray, "g.png", 3);
    expect(Array.from(rgb.data, (v) => Math.round(v * 255))).toEqual(new Array(12).fill(77));
  });

  it("bilinear resize preserves constants and averages on a 2× shrink", () => {
    const cst = new Float32Array(2 * 9 * 11).fill(0.25);
    expect(resizeBilinear(cst, 2, 9, 11, 4, 7).every((v) => Math.abs(v - 0.25) < 1e-6)).toBe(true);
    // Columns alternate 0, 1: a 2× shrink of a row gives the mean of each pair's neighbourhood, 0.5.
    const stripes = Float32Array.from({ length: 8 * 8 }, (_, i) => i % 2);
    const half = resizeBilinear(stripes, 1, 8, 8, 4, 4);
    for (let y = 0; y < 4; y++) for (let x = 1; x < 3; x++) expect(half[y * 4 + x]).toBeCloseTo(0.5, 5);
  });

  it("names a truncated PNG, a non-image with an image extension, and an empty class folder", () => {
    const root = tmp();
    writeClassFolder(root, ["a", "b"], 2, 1, 8, 8);
    const f = join(root, "b", "img1.png");
    writeFileSync(f, readFileSync(f).subarray(0, 40));
    expectDataError(() => loadImageFolder(root), "BAD_IMAGE", "b/img1.png", /PNG does not decode/);
    writeFileSync(f, "not an image at all");
    expectDataError(() => loadImageFolder(root), "BAD_MAGIC", "b/img1.png", /neither a PNG nor a JPEG/);
    rmSync(f);
    rmSync(join(root, "b", "img0.png"));
    expectDataError(() => loadImageFolder(root), "EMPTY_CLASS", join(root, "b"), /holds no/);
  });
});
