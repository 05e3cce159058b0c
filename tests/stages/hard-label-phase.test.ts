// HALD's hard-label phase (stages/hard-label-phase.ts): where in a student's epochs it lies, and
// the hard targets it trains on.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { hardPhaseEpochs, writeHardTarget } from "../../gpu-cluster/stages/hard-label-phase.ts";
import { batchOrder, defaultCropSchedule, mixFor } from "../../shared/crop-schedule/index.ts";

describe("hard-label phase", () => {
  it("lies in the middle: round(f·E) epochs, after half the soft ones (rounded down)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (E, f) => {
        const [start, end] = hardPhaseEpochs(E, f);
        const soft = E - (end - start);
        expect(end - start).toBe(Math.round(f * E));
        expect(start).toBe(Math.floor(soft / 2)); // soft epochs before
        expect(E - end - start).toBeGreaterThanOrEqual(0); // and at least as many after
        expect(E - end - start).toBeLessThanOrEqual(1);
      }),
    );
    expect(hardPhaseEpochs(300, 0.5)).toEqual([75, 225]); // HALD's S6: 75 soft, 150 hard, 75 soft
    expect(hardPhaseEpochs(10, 0)).toEqual([5, 5]); // none
    expect(() => hardPhaseEpochs(10, 1)).toThrow(/fraction must be in \[0, 1\), got 1/);
    expect(() => hardPhaseEpochs(10, Number.NaN)).toThrow(/fraction/);
  });

  it("a crop's hard target is its images' classes, mixed as the crop is, then smoothed", () => {
    const classes = 5;
    const N = 10;
    const labels = Int32Array.from({ length: N }, (_, i) => Math.floor(i / 2));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 0, max: 50 }),
        fc.constantFrom("none", "cutmix", "mixup"),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (seed, epoch, kind, s) => {
          const schedule = defaultCropSchedule({
            seed,
            sourceSize: 8,
            mix: { kind: kind as "none", alpha: 1, prob: 0.7 },
          });
          const order = batchOrder(seed, epoch, N);
          const t = new Float32Array(2 * classes).fill(Number.NaN); // written over, never added to
          for (let slot = 0; slot < N; slot++) {
            writeHardTarget(t.subarray(classes), labels, order[slot], { schedule, epoch, slot, images: N }, s);
            const row = t.subarray(classes);
            expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
            const mix = mixFor(schedule, epoch, slot, N);
            const want = new Float64Array(classes).fill(s / classes);
            want[labels[order[slot]]] += (1 - s) * (mix ? mix.lambda : 1);
            if (mix) want[labels[mix.partnerImage]] += (1 - s) * (1 - mix.lambda);
            row.forEach((v, k) => expect(v).toBeCloseTo(want[k], 6));
            expect(Number.isNaN(t[0])).toBe(true); // other rows untouched
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
