// Squeeze's recipe decisions: epochs as a function of the training-set size, the epoch kept
// chosen on a held-out part of train (the test set's labels cannot change it), the optional
// weight average scored beside the raw weights, and clear errors before any work for bad flags
// (teacher, --students, --out; no run folder left behind) and for a stage run before squeeze.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultAugment } from "../../gpu-cluster/data/index.ts";
import { squeeze, teacherEpochs, type SqueezeConfig } from "../../gpu-cluster/stages/squeeze.ts";
import { generated, generatedSplits } from "../data/generated.ts";

describe("teacher epochs from the training-set size", () => {
  it("about 1 M images seen, between 2 and 200 epochs, never more for a larger set", () => {
    expect(teacherEpochs(54998)).toBe(18); // MNIST less its held-out 5 000
    expect(teacherEpochs(45000)).toBe(22); // CIFAR-10 less 5 000
    expect(teacherEpochs(100000)).toBe(10);
    expect(teacherEpochs(5000)).toBe(200);
    expect(teacherEpochs(100)).toBe(200);
    expect(teacherEpochs(1_281_167)).toBe(2); // ImageNet-1K
    const sizes = [10, 1000, 4999, 5001, 20000, 60000, 333333, 500000, 1e6, 1e7];
    const e = sizes.map(teacherEpochs);
    for (let i = 1; i < e.length; i++) expect(e[i]).toBeLessThanOrEqual(e[i - 1]);
    // the total work (images seen) still grows with the set once the cap is off
    expect(1e6 * teacherEpochs(1e6)).toBeGreaterThan(20000 * teacherEpochs(20000));
    expect(() => teacherEpochs(0)).toThrow(/positive image count/);
  });
});

describe("squeeze picks its epoch on held-out training images", () => {
  // 4 classes × 100 generated images: 320 to train on (26 of them held out), 80 as the test set.
  const all = generated(true, 3, 100);
  const data = generatedSplits;
  const cfg: SqueezeConfig = {
    arch: "convnet-2",
    width: 8,
    epochs: 4,
    batch: 32,
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
    warmupEpochs: 1,
    augment: defaultAugment(all),
    seed: 2,
  };

  it("scores every epoch on the held-out split; the test labels change the reported accuracy, not the choice", async () => {
    const a = await squeeze(data(false), cfg, { threads: 1 });
    const b = await squeeze(data(true), cfg, { threads: 1 });
    expect(a.holdoutImages).toBeGreaterThanOrEqual(26);
    expect(a.fitImages + a.holdoutImages).toBe(320);
    expect(a.scores.map((s) => s.epoch)).toEqual([1, 2, 3, 4]);
    expect(a.chosen!.holdout).toBe(Math.max(...a.scores.map((s) => s.raw)));
    expect(b.scores).toEqual(a.scores);
    expect(b.chosen).toEqual(a.chosen);
    expect(a.accuracy).toBeGreaterThan(0.9); // the templates are easy
    expect(b.accuracy).toBeLessThan(0.1); // the same teacher, scored against the wrong labels
  });

  it("with a weight average, scores it beside the raw weights; without a held-out split, keeps the last epoch", async () => {
    const ema = await squeeze(data(false), { ...cfg, ema: 0.9, labelSmoothing: 0.1 }, { threads: 1 });
    expect(ema.scores.every((s) => s.ema !== undefined && s.ema >= 0 && s.ema <= 1)).toBe(true);
    // one full batch per epoch keeps the 200 epochs the size rule gives 320 images cheap
    const last = await squeeze(data(false), { ...cfg, holdout: false, epochs: undefined, batch: 320 }, { threads: 1 });
    expect(last.scores).toEqual([]);
    expect(last.chosen).toBeUndefined();
    expect(last.fitImages).toBe(320);
    expect(last.epochs).toBe(200); // 320 images: the cap
    expect(last.losses).toHaveLength(200);
  });
});

describe("flags refused before any work", () => {
  const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
  const distill = (args: string[]) =>
    spawnSync(tsx, ["gpu-cluster/cli/distill.ts", ...args], {
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0" },
    });

  it("a bad --teacher-epochs or --teacher-arch stops before any work with a message naming the flag", () => {
    const epochs = distill(["squeeze", "--teacher-epochs", "0"]);
    expect(epochs.status).not.toBe(0);
    expect(epochs.stderr).toMatch(/--teacher-epochs must be an integer ≥ 1, got '0'/);
    const arch = distill(["squeeze", "--teacher-arch", "vgg16"]);
    expect(arch.status).not.toBe(0);
    expect(arch.stderr).toMatch(/--teacher-arch must be one of convnet-1, .*resnet18, resnet50, .*got 'vgg16'/);
  });

  it("a student architecture evaluate cannot build is refused before squeeze, not hours later", () => {
    const refused = (students: string) => distill(["run", "--students", students, "--out", "/nonexistent/run"]);
    const typo = refused("convnet-3,resnet-18");
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toMatch(/--students must be one of convnet-1, .*resnet18, .*got 'resnet-18'/);
    expect(refused("convnet-3, convnet-3").stderr).toMatch(/--students names convnet-3 twice/);
    expect(refused(" , ").stderr).toMatch(/--students needs at least one architecture/);
  });

  it("an --out that cannot be a folder is refused with the reason, not an errno", () => {
    const file = join(mkdtempSync(join(tmpdir(), "distill-out-")), "a-file");
    writeFileSync(file, "not a folder");
    for (const [out, why] of [
      [file, "a file is there"],
      [join(file, "run"), "a file is on its path"],
    ]) {
      const r = distill(["run", "--out", out]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        `${out}: cannot make the run folder (${why}): give --out a folder that can be created`,
      );
    }
    expect(readFileSync(file, "utf8")).toBe("not a folder");
  });

  it("flags refused before any work leave no run folder behind, and an existing one untouched", () => {
    const parent = mkdtempSync(join(tmpdir(), "distill-refused-"));
    const fresh = join(parent, "new", "run");
    const r = distill(["run", "--init", "noise", "--r-compete", "1", "--out", fresh]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--r-compete pits the teacher against/);
    expect(existsSync(join(parent, "new"))).toBe(false);
    const kept = join(parent, "kept");
    mkdirSync(kept);
    expect(distill(["run", "--init", "noise", "--r-compete", "1", "--out", kept]).status).not.toBe(0);
    expect(existsSync(kept)).toBe(true);
  });

  it("a stage after squeeze in a folder without a teacher names the missing file and the stage that makes it", () => {
    const out = mkdtempSync(join(tmpdir(), "distill-no-teacher-"));
    for (const stage of ["recover", "evaluate"]) {
      const r = distill([stage, "--out", out]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(
        `the run's teacher ${join(out, "teacher.onnx")}: cannot read it (ENOENT): squeeze makes it (\`distill squeeze\``,
      );
    }
  });
});
