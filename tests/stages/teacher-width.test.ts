// Squeeze widens the teacher only when it underfits: a second teacher twice as wide is trained,
// and the better of the two on the held-out split of train is kept (never the test set's
// choice); a teacher that fits its data, a width asked for, or data too small for a held-out
// split train one teacher only.
import { describe, expect, it } from "vitest";
import { defaultAugment } from "../../gpu-cluster/data/index.ts";
import type { SqueezeConfig } from "../../gpu-cluster/stages/squeeze.ts";
import { squeezeWidening, underfits, UNDERFIT_LOSS } from "../../gpu-cluster/stages/teacher-width.ts";
import { generated, generatedSplits } from "../data/generated.ts";

// 4 classes × 100 generated images: 320 to train on (some held out), 80 as the test set.
const split = generatedSplits;
const cfg: SqueezeConfig & { width: number } = {
  arch: "convnet-2",
  width: 4,
  epochs: 1,
  batch: 32,
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 5e-4,
  warmupEpochs: 1,
  augment: defaultAugment(generated(true, 3, 100)),
  seed: 3,
};

describe("teacher width from the data", () => {
  it("a teacher underfits when its last epoch's mean training loss is above the bar", () => {
    expect(underfits({ losses: [2, 1, UNDERFIT_LOSS * 1.01] })).toBe(true);
    expect(underfits({ losses: [2, 1, UNDERFIT_LOSS] })).toBe(false);
    // width 32, measured: MNIST's default teacher ends at 0.018, npm start's 2-epoch one at 0.066,
    // Fashion-MNIST's default at 0.22
    expect(underfits({ losses: [0.01, 0.5, 0.018] })).toBe(false);
    expect(underfits({ losses: [0.38, 0.066] })).toBe(false);
    expect(underfits({ losses: [0.76, 0.22] })).toBe(true);
    expect(underfits({ losses: [] })).toBe(false);
  });

  it("an underfitting teacher gets a twice-as-wide rival; the better on held-out train images is kept, whatever the test labels", async () => {
    const a = await squeezeWidening(split(), cfg, true, { threads: 1 });
    expect(a.tried.map((t) => t.width)).toEqual([4, 8]);
    expect(a.tried[0].last_loss).toBeGreaterThan(UNDERFIT_LOSS);
    const best = a.tried[1].holdout! > a.tried[0].holdout! ? a.tried[1] : a.tried[0];
    expect(a.kept.note.width).toBe(best.width);
    expect(a.kept.chosen!.holdout).toBe(best.holdout);
    expect(a.kept.accuracy).toBe(best.test_accuracy);
    const b = await squeezeWidening(split(true), cfg, true, { threads: 1 });
    expect(b.kept.note.width).toBe(a.kept.note.width);
    expect(b.tried.map((t) => t.holdout)).toEqual(a.tried.map((t) => t.holdout));
  });

  it("trains one teacher when widening is off, when it fits, or without a held-out split", async () => {
    const off = await squeezeWidening(split(), cfg, false, { threads: 1 });
    expect(off.tried.map((t) => t.width)).toEqual([4]);
    const fits = await squeezeWidening(split(), { ...cfg, width: 8, epochs: 30 }, true, { threads: 1 });
    expect(fits.tried[0].last_loss).toBeLessThan(UNDERFIT_LOSS);
    expect(fits.tried.map((t) => t.width)).toEqual([8]);
    const noHoldout = await squeezeWidening(split(), { ...cfg, holdout: false }, true, { threads: 1 });
    expect(noHoldout.tried.map((t) => t.width)).toEqual([4]);
    expect(noHoldout.tried[0].last_loss).toBeGreaterThan(UNDERFIT_LOSS);
  });
});
