// Screening random draws for the recover gate (--gate-screen): which draws the gate weighs (the best
// by their short students, ties to the earlier, never (b)'s), and the screening images (their own,
// disjoint from every candidate's sources and from the gate's scoring images).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Dataset } from "../../gpu-cluster/data/index.ts";
import type { ImageSet } from "../../gpu-cluster/stages/crops.ts";
import { SCREEN_IMAGES, screenDraws, screenImageIndices } from "../../gpu-cluster/stages/gate-screen.ts";
import { gateScoringSet, type GateCandidate } from "../../gpu-cluster/stages/recover-gate.ts";

const set = (v: number): ImageSet => ({ pixels: new Float32Array(1).fill(v), count: 1, channels: 1, size: 1 });

/** A dataset whose image i is the value i (so a subset names its sources), `shares[c]` of it in class c. */
function toy(n: number, shares: number[]): Dataset {
  const labels = new Int32Array(n).map((_, i) => {
    let acc = 0;
    for (let c = 0; c < shares.length; c++) if ((acc += shares[c]) * n > i) return c;
    return shares.length - 1;
  });
  return {
    images: new Float32Array(n).map((_, i) => i),
    labels,
    classes: shares.map((_, c) => `c${c}`),
    channels: 1,
    height: 1,
    width: 1,
    name: "toy",
  };
}

describe("gate screen", () => {
  it("weighs the `keep` best-scored draws besides (b)'s, best first, ties to the earlier draw", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 12 }),
        fc.nat(),
        async (raw, k) => {
          const draws = raw.map((_, i) => ({
            name: (i === 0 ? "random" : `draw-${i + 1}`) as GateCandidate,
            set: set(i),
          }));
          const keep = 1 + (k % (draws.length - 1));
          const scored: string[] = [];
          const r = await screenDraws(
            draws,
            async (s, name) => {
              scored.push(name);
              return raw[s.pixels[0]] / 5;
            },
            keep,
            "random",
          );
          // every draw is screened once, (b)'s included (its score is the yardstick in the log)
          expect(scored).toEqual(draws.map((d) => d.name));
          expect(Object.keys(r.scores)).toEqual(draws.map((d) => d.name));
          // the chosen: a stable descending sort of the others' scores, cut at keep
          const expected = raw
            .map((v, i) => ({ v, i }))
            .slice(1)
            .sort((a, b) => b.v - a.v || a.i - b.i)
            .slice(0, keep)
            .map(({ i }) => `draw-${i + 1}`);
          expect(r.chosen).toEqual(expected);
          expect(r.chosen).not.toContain("random");
        },
      ),
    );
    await expect(screenDraws([{ name: "random", set: set(0) }], async () => 1, 1, "random")).rejects.toThrow(
      /1 draws to keep of 0 screened/,
    );
  });

  it("scores on training images of its own: none a candidate's, none the gate's, a sixth of those left at most", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 240, max: 3000 }),
        fc.double({ min: 0.2, max: 0.8, noNaN: true }),
        fc.array(fc.nat(), { maxLength: 200 }),
        fc.nat(1000),
        (n, share, rawExclude, seed) => {
          const train = toy(n, [share, 1 - share]);
          const exclude = rawExclude.map((i) => i % n);
          const screen = screenImageIndices(train, exclude, seed);
          const left = n - new Set(exclude).size;
          expect(screen.length).toBeLessThanOrEqual(Math.min(SCREEN_IMAGES, Math.floor(left / 6)) + 2);
          expect(screen).toEqual([...screen].sort((a, b) => a - b));
          expect(new Set(screen).size).toBe(screen.length);
          for (const i of exclude) expect(screen).not.toContain(i);
          expect(screenImageIndices(train, exclude, seed)).toEqual(screen); // seeded
          // the gate then excludes them too: its images are disjoint from the screen's
          if (left - screen.length === 0) return;
          const gate = gateScoringSet(train, [...exclude, ...screen], seed);
          const gateSources = new Set([...gate.images].map((v) => Math.round(v)));
          for (const i of screen) expect(gateSources.has(i)).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
    // the same share of each class (70/30 here), capped at SCREEN_IMAGES on large data
    const big = toy(90_000, [0.7, 0.3]);
    const screen = screenImageIndices(big, [], 1);
    expect(screen.length).toBeGreaterThan(SCREEN_IMAGES - 2);
    expect(screen.length).toBeLessThanOrEqual(SCREEN_IMAGES + 1);
    const share0 = screen.filter((i) => big.labels[i] === 0).length / screen.length;
    expect(share0).toBeCloseTo(0.7, 3);
    // too little data left: a clear refusal, not screening students scored on nothing
    expect(() => screenImageIndices(toy(12, [0.5, 0.5]), [0, 1, 2, 3, 4, 5, 6], 1)).toThrow(
      /5 training images of toy are left beside the candidates, too few .*: drop --gate-screen/,
    );
  });
});
