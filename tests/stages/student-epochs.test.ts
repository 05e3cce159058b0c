// The default student schedule: at least the original's 300 epochs and at least MIN_STUDENT_CROPS
// crops in all, so that small distilled sets are trained long enough and large ones no longer than
// the original.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BASE_STUDENT_EPOCHS, defaultStudentEpochs, MIN_STUDENT_CROPS } from "../../gpu-cluster/stages/evaluate.ts";

describe("default student epochs", () => {
  it("gives small sets more epochs and large sets the original 300", () => {
    expect(defaultStudentEpochs(10)).toBe(60_000); // MNIST IPC 1
    expect(defaultStudentEpochs(100)).toBe(6_000); // IPC 10
    expect(defaultStudentEpochs(500)).toBe(1_200); // IPC 50
    expect(defaultStudentEpochs(1_000)).toBe(600); // IPC 100
    expect(defaultStudentEpochs(1_500)).toBe(400); // IPC 150
    expect(defaultStudentEpochs(50_000)).toBe(300); // ImageNet IPC 50
  });

  it("sees at least MIN_STUDENT_CROPS crops and 300 epochs, with no more epochs than needed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000_000 }), (n) => {
        const e = defaultStudentEpochs(n);
        expect(e).toBeGreaterThanOrEqual(BASE_STUDENT_EPOCHS);
        expect(e * n).toBeGreaterThanOrEqual(MIN_STUDENT_CROPS);
        if (e > BASE_STUDENT_EPOCHS) expect((e - 1) * n).toBeLessThan(MIN_STUDENT_CROPS);
      }),
    );
  });

  it("never gives a larger set more epochs (a continual memory's labels cover every later step)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000_000 }), fc.integer({ min: 1, max: 5_000 }), (n, d) => {
        expect(defaultStudentEpochs(n + d)).toBeLessThanOrEqual(defaultStudentEpochs(n));
      }),
    );
  });

  it("refuses an empty set", () => {
    expect(() => defaultStudentEpochs(0)).toThrow(/at least one image/);
  });
});
