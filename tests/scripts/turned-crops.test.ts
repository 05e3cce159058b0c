// scripts/turned-crops.ts: a grid with one row per (image, rotation), the whole image first; the
// whole images agree across rotations, the turned rows' crops differ from the unturned row's.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../gpu-cluster/data/image-decode.ts";

const root = join(process.cwd(), "test-output", "turned-crops");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("turned-crops grid", () => {
  it("2 images × rotations 0 and 30°, 3 crops each: 4 rows of 4 cells; turned crops differ, whole images agree", () => {
    const out = join(root, "grid.png");
    const args = ["scripts/turned-crops.ts", "--classes", "2", "--epochs", "3", "--rotate", "0,30", "--out", out];
    const p = spawnSync(tsx, args, { encoding: "utf8" });
    expect(p.status, p.stderr).toBe(0);
    const img = decodeImage(readFileSync(out), out);
    // 28 px MNIST cells drawn at 2× (56 px) with 2 px gaps
    const cell = 56,
      gap = 2;
    expect([img.height, img.width]).toEqual([4 * cell + 5 * gap, 4 * cell + 5 * gap]);
    const cellAt = (r: number, c: number) => {
      const out: number[] = [];
      for (let y = 0; y < cell; y++)
        for (let x = 0; x < cell; x++)
          out.push(img.data[(gap + r * (cell + gap) + y) * img.width + gap + c * (cell + gap) + x]);
      return out;
    };
    const diff = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    for (const image of [0, 1]) {
      const [plain, turned] = [2 * image, 2 * image + 1];
      expect(diff(cellAt(plain, 0), cellAt(turned, 0))).toBe(0);
      for (let c = 1; c <= 3; c++) expect(diff(cellAt(plain, c), cellAt(turned, c))).toBeGreaterThan(0.005);
    }
  }, 60_000);
});
