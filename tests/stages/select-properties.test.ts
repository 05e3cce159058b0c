// Properties of the k-means selections on random candidate pools (fast-check): whatever the
// layout, every synthetic slot gets a distinct candidate of its own class, the clusters partition
// each class's candidates, the chosen pixels are the candidates' own, and a seed fixes the result.
// Weighted k-means (probe-cover's): a candidate heavy enough becomes a centre. The candidate pool
// leaves the recover gate its share of every class wherever a start of that size fits.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kmeansOfPoints, selectKMeans, type CandidatePool } from "../../gpu-cluster/stages/select-real.ts";
import { candidatesPerImage, START_SHARE_OF_CLASS, startFits } from "../../gpu-cluster/stages/selection-kinds.ts";
import { Random } from "../../gpu-cluster/data/index.ts";

const poolArb = fc
  .record({
    classes: fc.integer({ min: 1, max: 4 }),
    ipc: fc.integer({ min: 1, max: 4 }),
    m: fc.integer({ min: 1, max: 5 }),
    size: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 1000 }),
    duplicates: fc.boolean(), // candidates repeated exactly: ties everywhere
  })
  .map(({ classes, ipc, m, size, seed, duplicates }): CandidatePool => {
    const count = classes * ipc * m,
      per = size * size;
    const rng = new Random(seed, "pool");
    const pixels = new Float32Array(count * per);
    for (let i = 0; i < count; i++) {
      const src = duplicates ? i % 2 : i;
      for (let q = 0; q < per; q++) pixels[i * per + q] = ((src * 7919 + q * 104729) % 1000) / 1000;
      if (!duplicates) for (let q = 0; q < per; q++) pixels[i * per + q] += 0.1 * rng.normal();
    }
    return { candidates: { pixels, count, channels: 1, size }, classes, ipc, m, seed };
  });

describe("k-means selection on random pools", () => {
  it("one distinct candidate per slot, from the slot's own class block, with the candidate's pixels", () => {
    fc.assert(
      fc.property(poolArb, (pool) => {
        const { candidates, classes, ipc, m } = pool;
        const s = selectKMeans(pool);
        const per = candidates.size * candidates.size;
        expect(s.count).toBe(classes * ipc);
        expect(new Set(s.chosen).size).toBe(s.count);
        s.chosen.forEach((pick, i) => {
          expect(Math.floor(pick / (ipc * m))).toBe(Math.floor(i / ipc));
          expect(s.pixels.subarray(i * per, (i + 1) * per)).toEqual(
            candidates.pixels.subarray(pick * per, (pick + 1) * per),
          );
        });
        expect(selectKMeans(pool).chosen).toEqual(s.chosen); // the seed fixes it
        // with one candidate per image there is nothing to choose: every candidate is kept
        if (m === 1) expect([...s.chosen].sort((a, b) => a - b)).toEqual(s.chosen.map((_, i) => i));
      }),
      { seed: 7, numRuns: 60 },
    );
  });

  it("the clusters partition each class's candidates, and each centre is a distinct candidate", () => {
    fc.assert(
      fc.property(poolArb, (pool) => {
        const { candidates, ipc, m } = pool;
        const per = candidates.size * candidates.size;
        const points = Array.from({ length: candidates.count }, (_, i) =>
          candidates.pixels.slice(i * per, (i + 1) * per),
        );
        for (const cl of kmeansOfPoints(points, pool)) {
          expect(cl.members.length).toBe(ipc);
          expect(
            cl.members
              .flat()
              .sort((a, b) => a - b)
              .join(),
          ).toBe(Array.from({ length: ipc * m }, (_, i) => i).join());
          expect(new Set(cl.centre).size).toBe(ipc);
          for (const c of cl.centre) expect(c >= 0 && c < ipc * m).toBe(true);
        }
      }),
      { seed: 8, numRuns: 60 },
    );
  });

  it("weighted k-means: a candidate far heavier than the rest is a centre of its class; bad weights are refused", () => {
    fc.assert(
      fc.property(poolArb, fc.nat(), (pool, at) => {
        const { candidates, ipc, m } = pool;
        const n = ipc * m;
        const per = candidates.size * candidates.size;
        const points = Array.from({ length: candidates.count }, (_, i) =>
          candidates.pixels.slice(i * per, (i + 1) * per),
        );
        const heavy = at % candidates.count;
        const weights = Float64Array.from(points, (_, i) => (i === heavy ? 1e9 : 1));
        const clusters = kmeansOfPoints(points, pool, 25, weights);
        const c = Math.floor(heavy / n);
        // its pixels are a centre's (a duplicate of it may stand in for it)
        const centrePixels = clusters[c].centre.map((i) => points[c * n + i].join());
        expect(centrePixels).toContain(points[heavy].join());
        expect(() => kmeansOfPoints(points, pool, 25, weights.subarray(1))).toThrow(
          /one positive weight per candidate/,
        );
        expect(() =>
          kmeansOfPoints(
            points,
            pool,
            25,
            weights.map((w, i) => (i === 0 ? 0 : w)),
          ),
        ).toThrow(/one positive weight per candidate/);
      }),
      { seed: 9, numRuns: 60 },
    );
  });

  it("property: the candidates take at most the start's share of the smallest class where the start fits, --select-from at most, one at least", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 200 }),
        (selectFrom, smallest, perClass) => {
          const m = candidatesPerImage(selectFrom, smallest, perClass);
          expect(m).toBeGreaterThanOrEqual(1);
          expect(m).toBeLessThanOrEqual(selectFrom);
          expect(startFits(smallest, perClass)).toBe(smallest * START_SHARE_OF_CLASS >= perClass);
          if (startFits(smallest, perClass)) {
            expect(m * perClass).toBeLessThanOrEqual(smallest * START_SHARE_OF_CLASS);
            // as many as that share allows: one more would exceed it, unless --select-from stops first
            if (m < selectFrom) expect((m + 1) * perClass).toBeGreaterThan(smallest * START_SHARE_OF_CLASS);
          } else expect(m).toBe(1);
        },
      ),
    );
  });
});
