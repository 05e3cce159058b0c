// --select factorial's design and choice: the array is orthogonal (strength 2: every pair of
// columns holds every pair of levels equally often), the composite takes each class from its
// draw, and with scores that add up per class the choice is the best combination of all 3^K,
// which none of the runs needs to have tried.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  composeByClass,
  mainEffects,
  orthogonalArray,
  selectFactorial,
} from "../../gpu-cluster/stages/select-factorial.ts";
import type { RealSubset } from "../../gpu-cluster/stages/random-subset.ts";

/** A draw: K classes × ipc images of 1 × 2 × 2, every pixel = draw id + image index / 1000. */
function draw(id: number, classes: number, ipc: number): RealSubset {
  const count = classes * ipc;
  const pixels = new Float32Array(count * 4).map((_, q) => id + Math.floor(q / 4) / 1000);
  const labels = Int32Array.from({ length: count }, (_, i) => Math.floor(i / ipc));
  return { pixels, count, channels: 1, size: 2, labels, sources: labels.map((_, i) => 100 * id + i) as never };
}

describe("--select factorial", () => {
  it("orthogonalArray: 3^k runs, the fewest that hold the factors, every pair of columns balanced", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (factors) => {
        const a = orthogonalArray(factors);
        const k = Math.round(Math.log(a.length) / Math.log(3));
        expect(a.length).toBe(3 ** k);
        expect((3 ** k - 1) / 2).toBeGreaterThanOrEqual(factors);
        expect(k === 1 || (3 ** (k - 1) - 1) / 2 < factors).toBe(true);
        expect(a[0]).toEqual(new Array(factors).fill(0));
        for (let f = 0; f < factors; f++)
          for (let g = f + 1; g < factors; g++) {
            const pairs = new Map<string, number>();
            for (const row of a) pairs.set(`${row[f]}${row[g]}`, (pairs.get(`${row[f]}${row[g]}`) ?? 0) + 1);
            expect(pairs.size).toBe(9);
            expect(new Set(pairs.values())).toEqual(new Set([a.length / 9]));
          }
      }),
      { numRuns: 40 },
    );
  });

  it("composeByClass takes each class's images, labels and sources from its level's draw", () => {
    const draws = [0, 1, 2].map((id) => draw(id, 3, 2));
    const set = composeByClass(draws, [2, 0, 1], 2);
    expect(Array.from(set.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(set.sources).toEqual([200, 201, 2, 3, 104, 105]);
    // image i of the composite is image i of its class's draw
    expect(Array.from(set.pixels.filter((_, q) => q % 4 === 0))).toEqual(
      [2, 2.001, 0.002, 0.003, 1.004, 1.005].map(Math.fround),
    );
    expect(() => orthogonalArray(0)).toThrow(/0 factors/);
  });

  it("with scores that add up per class it keeps the best of all 3^K combinations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 14 }).chain((classes) =>
          fc.array(fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 3, maxLength: 3 }), {
            minLength: classes,
            maxLength: classes,
          }),
        ),
        async (effects) => {
          const classes = effects.length;
          const draws = [0, 1, 2].map((id) => draw(id, classes, 1));
          // a run's score: the sum of its classes' effects (read back from the composite's pixels); whole
          // numbers, so that equal effects tie exactly
          const r = await selectFactorial(draws, classes, 1, async (set) =>
            Array.from({ length: classes }, (_, c) => effects[c][Math.round(set.pixels[c * 4])]).reduce(
              (a, b) => a + b,
              0,
            ),
          );
          const best = effects.map((e) => e.indexOf(Math.max(...e)));
          expect(r.levels).toEqual(best);
          const optimum = effects.reduce((s, e) => s + Math.max(...e), 0);
          expect(r.predicted).toBeCloseTo(optimum, 9);
          expect(r.scores.length).toBe(orthogonalArray(classes).length);
          expect(Array.from(r.set.pixels.filter((_, q) => q % 4 === 0)).map(Math.round)).toEqual(best);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("mainEffects: each level's mean over the runs at it; ties keep (b)'s draw", async () => {
    const design = orthogonalArray(2);
    expect(
      mainEffects(
        design,
        design.map((row) => row[0]),
      ),
    ).toEqual([
      [0, 1, 2],
      [1, 1, 1],
    ]);
    const flat = await selectFactorial(
      [0, 1, 2].map((id) => draw(id, 2, 1)),
      2,
      1,
      async () => 0.5,
    );
    expect(flat.levels).toEqual([0, 0]);
  });
});
