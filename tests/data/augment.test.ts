import { describe, expect, it } from "vitest";
import { epochBatches, makeBatch, Random, type Dataset } from "../../gpu-cluster/data/index.ts";

// Two 1 × 4 × 4 images: image 0 has a single bright pixel at (1, 2), image 1 is all 100.
function tiny(): Dataset {
  const images = new Uint8Array(2 * 16);
  images[1 * 4 + 2] = 255;
  images.fill(100, 16, 32);
  return {
    images,
    labels: Int32Array.from([0, 1]),
    classes: ["a", "b"],
    channels: 1,
    height: 4,
    width: 4,
    name: "tiny",
  };
}

describe("CPU augmentation", () => {
  const stats = { mean: [0.5], std: [0.25] };

  it("without augmentation normalises with the channel mean/std", () => {
    const b = makeBatch(tiny(), [1, 0], stats);
    expect(b[0]).toBeCloseTo((100 / 255 - 0.5) / 0.25, 5);
    expect(b[16 + 6]).toBeCloseTo((1 - 0.5) / 0.25, 5);
    expect(b[16]).toBeCloseTo(-2, 5);
  });

  it("crops with zero padding and flips: the bright pixel moves by the shift, mass is conserved or cut", () => {
    const d = tiny();
    const rng = new Random(3, "aug");
    const seen = new Set<string>();
    for (let t = 0; t < 200; t++) {
      const b = makeBatch(d, [0], { mean: [0], std: [1] }, { pad: 1, flip: true }, rng);
      const lit = [...b.keys()].filter((i) => b[i] > 0.5);
      expect(lit.length).toBeLessThanOrEqual(1);
      if (lit.length === 1) {
        const y = Math.floor(lit[0] / 4),
          x = lit[0] % 4;
        expect(Math.abs(y - 1)).toBeLessThanOrEqual(1);
        expect(Math.min(Math.abs(x - 2), Math.abs(3 - x - 2))).toBeLessThanOrEqual(1); // shifted, maybe mirrored
        seen.add(`${y},${x}`);
      }
    }
    expect(seen.size).toBeGreaterThan(6); // many distinct positions: it really moves
  });

  it("is seeded: same seed same batches, other seed other batches", () => {
    const d = tiny();
    const run = (seed: number) => {
      const rng = new Random(seed);
      return [0, 1, 2].map(() => makeBatch(d, [0, 1], { mean: [0], std: [1] }, { pad: 2, flip: true }, rng));
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    const e = epochBatches(10, 4, new Random(5));
    expect(e.map((b) => b.length)).toEqual([4, 4, 2]);
    expect([...e.flatMap((b) => [...b])].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
