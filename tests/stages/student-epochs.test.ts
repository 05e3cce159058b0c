// The default student schedule: at least the original's 300 epochs and at least MIN_STUDENT_CROPS
// crops in all, so that small distilled sets are trained long enough and large ones no longer than
// the original.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BASE_STUDENT_EPOCHS, defaultStudentEpochs, MIN_STUDENT_CROPS } from "../../gpu-cluster/stages/evaluate.ts";
import { DEFAULT_STUDENT_WIDTH, defaultStudentWidth } from "../../gpu-cluster/stages/student-width.ts";

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

describe("default student width", () => {
  it("is the teacher's width for a teacher of the student's family, else 32", () => {
    expect(defaultStudentWidth("convnet-3", { arch: "convnet-3", width: 64 })).toBe(64); // widened teacher
    expect(defaultStudentWidth("convnet-3", { arch: "convnet-3", width: 32 })).toBe(32);
    expect(defaultStudentWidth("convnet-in-3", { arch: "convnet-3", width: 64 })).toBe(64); // InstanceNorm form
    expect(defaultStudentWidth("convnet-2", { arch: "convnet-4", width: 16 })).toBe(16);
    expect(defaultStudentWidth("resnet18", { arch: "resnet50", width: 48 })).toBe(48);
    expect(defaultStudentWidth("convnet-3", { arch: "resnet18", width: 64 })).toBe(DEFAULT_STUDENT_WIDTH);
    expect(defaultStudentWidth("vit-tiny", { arch: "bn-vit-tiny", width: 192 })).toBe(DEFAULT_STUDENT_WIDTH);
    expect(defaultStudentWidth("convnet-3", { arch: "convnet-3" })).toBe(DEFAULT_STUDENT_WIDTH); // no width noted
    expect(defaultStudentWidth("convnet-3")).toBe(DEFAULT_STUDENT_WIDTH); // a teacher without our note
  });
});
