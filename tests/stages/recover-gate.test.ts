// The recover gate's decision rule (a more processed image set must beat the kept one by a
// one-sided McNemar test) and its scoring images (training images no candidate came from).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { addRunOptions, type CliOptions } from "../../gpu-cluster/cli/options.ts";
import { Pipeline } from "../../gpu-cluster/cli/pipeline.ts";
import type { Dataset } from "../../gpu-cluster/data/index.ts";
import type { ImageSet } from "../../gpu-cluster/stages/crops.ts";
import {
  defaultGateDraws,
  GATE_SCORING_IMAGES,
  GATE_Z,
  gateScoringSet,
  gateZ,
  mcnemarZ,
  recoverGate,
  type GateCandidate,
} from "../../gpu-cluster/stages/recover-gate.ts";

const set = (v: number): ImageSet => ({ pixels: new Float32Array(4).fill(v), count: 1, channels: 1, size: 2 });

/** Candidates whose students get `correct[i]` right; the gate reads them back by pixel value. */
async function gate(correct: Uint8Array[]) {
  const names: GateCandidate[] = ["random", "start", "recovered"];
  const sets = correct.map((_, i) => ({ name: names[i], set: set(i) }));
  return await recoverGate(sets, async (s) => correct[s.pixels[0]]);
}

/** Which of `n` scoring images a student gets right: those in `ones`. */
function vector(n: number, ones: number[]): Uint8Array {
  const v = new Uint8Array(n);
  for (const i of ones) v[i] = 1;
  return v;
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe("recover gate", () => {
  it("McNemar z counts only the images exactly one student gets right", () => {
    // 900 both right, 16 only a, 36 only b, 48 neither
    const a = vector(1000, [...range(0, 900), ...range(900, 916)]);
    const b = vector(1000, [...range(0, 900), ...range(916, 952)]);
    expect(mcnemarZ(a, b)).toBeCloseTo(20 / Math.sqrt(52), 12);
    expect(mcnemarZ(b, a)).toBeCloseTo(-20 / Math.sqrt(52), 12);
    expect(mcnemarZ(a, a)).toBe(0);
    expect(() => mcnemarZ(a, b.subarray(1))).toThrow(/1000 against 999/);
  });

  it("keeps a more processed set only when it wins clearly; otherwise the less processed one", async () => {
    const random = vector(1000, range(0, 900));
    const clearlyBetter = vector(1000, range(0, 950)); // 50 only-better images: z ≈ 7.1
    const barelyBetter = vector(1000, [...range(0, 898), ...range(900, 906)]); // 6 against 2: z = 1.41
    expect(await gate([random, clearlyBetter, barelyBetter])).toMatchObject({ kept: "start" });
    const r = await gate([random, barelyBetter, barelyBetter]);
    expect(r.kept).toBe("random");
    expect(r.scores.start).toBeGreaterThan(r.scores.random!); // higher, yet not kept
    expect(r.z.start).toBeCloseTo(4 / Math.sqrt(8), 12);
    expect(r.z.start!).toBeLessThan(GATE_Z);
    // each later set is tested against the set kept before it
    expect((await gate([random, clearlyBetter, vector(1000, range(0, 1000))])).kept).toBe("recovered");
    expect((await gate([random, random, clearlyBetter])).kept).toBe("recovered");
    expect((await gate([random, random, random])).kept).toBe("random");
    await expect(
      recoverGate(
        [
          { name: "start", set: set(0) },
          { name: "recovered", set: { ...set(0), count: 3 } },
        ],
        async () => random,
      ),
    ).rejects.toThrow(/1 start images in 4 values but 3 recovered images in 4: not images of one shape/);
  });

  it("several random draws raise the bar: Bonferroni over the draws, the plain 5 % bar for one", async () => {
    expect(gateZ(1)).toBe(GATE_Z);
    // one-sided normal quantiles of 1 − 0.05/n (scipy.stats.norm.ppf)
    expect(gateZ(2)).toBeCloseTo(1.959964, 5);
    expect(gateZ(5)).toBeCloseTo(2.326348, 5);
    expect(gateZ(10)).toBeCloseTo(2.575829, 5);
    for (let n = 1; n < 20; n++) expect(gateZ(n + 1)).toBeGreaterThan(gateZ(n));
    expect(() => gateZ(0)).toThrow(/0 random draws/);
    // a draw 2.32 standard errors ahead of (b)'s passes the one-draw bar, not five draws' (2.33)
    const random = vector(1000, range(0, 900));
    const better = vector(1000, [...range(0, 897), ...range(900, 912)]); // 12 against 3: z = 9/√15 ≈ 2.32
    const sets = [random, better].map((_, i) => ({ name: (["random", "draw-2"] as const)[i], set: set(i) }));
    const correct = [random, better];
    expect((await recoverGate(sets, async (s) => correct[s.pixels[0]])).kept).toBe("draw-2");
    expect((await recoverGate(sets, async (s) => correct[s.pixels[0]], gateZ(5))).kept).toBe("random");
  });

  it("property: --gate-keep best keeps the highest score, the first of equals; the bar is 0 whatever the draws", async () => {
    for (const n of [1, 2, 5]) expect(gateZ(n, "best")).toBe(0);
    const names: GateCandidate[] = ["random", "draw-2", "draw-3", "start", "recovered"];
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 60 })
          .chain((n) =>
            fc.array(fc.uint8Array({ minLength: n, maxLength: n, min: 0, max: 1 }), { minLength: 1, maxLength: 5 }),
          ),
        async (correct) => {
          const sets = correct.map((_, i) => ({ name: names[i], set: set(i) }));
          const r = await recoverGate(sets, async (s) => correct[s.pixels[0]], gateZ(correct.length, "best"));
          const hits = correct.map((c) => c.reduce((a, v) => a + v, 0));
          expect(r.kept).toBe(names[hits.indexOf(Math.max(...hits))]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: the kept set scores at least the first set's accuracy, and beat each set it replaced by more than GATE_Z", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 400 })
          .chain((n) =>
            fc.array(fc.uint8Array({ minLength: n, maxLength: n, min: 0, max: 1 }), { minLength: 1, maxLength: 3 }),
          ),
        async (correct) => {
          const r = await gate(correct);
          const names: GateCandidate[] = ["random", "start", "recovered"];
          const k = names.indexOf(r.kept);
          expect(r.scores[r.kept]!).toBeGreaterThanOrEqual(r.scores.random!);
          if (k > 0) expect(r.z[r.kept]!).toBeGreaterThan(GATE_Z);
          for (let i = 0; i < correct.length; i++)
            expect(r.scores[names[i]]).toBeCloseTo(correct[i].reduce((a, v) => a + v, 0) / correct[i].length, 12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("scores on training images no candidate came from, the same share of each class, at most GATE_SCORING_IMAGES", () => {
    const n = 2 * GATE_SCORING_IMAGES;
    const labels = new Int32Array(n).map((_, i) => (i % 10 < 7 ? 0 : 1)); // 70 % class 0
    const train: Dataset = {
      images: new Uint8Array(n).map((_, i) => i % 251),
      labels,
      classes: ["a", "b"],
      channels: 1,
      height: 1,
      width: 1,
      name: "toy",
    };
    const exclude = range(0, 1000);
    const s = gateScoringSet(train, exclude, 3);
    expect(s.labels.length).toBeLessThanOrEqual(GATE_SCORING_IMAGES + 1);
    expect(s.labels.length).toBeGreaterThan(GATE_SCORING_IMAGES - 2);
    const share0 = s.labels.reduce((a, l) => a + (l === 0 ? 1 : 0), 0) / s.labels.length;
    expect(share0).toBeCloseTo(0.7, 3);
    // pixel i / 300 names its source image: only sources 250..299 remain
    const small = gateScoringSet(
      { ...train, images: new Float32Array(300).map((_, i) => i / 300), labels: labels.subarray(0, 300) },
      range(0, 250),
      3,
    );
    expect([...small.images].map((v) => Math.round(v * 300))).toEqual(range(250, 300));
    expect(gateScoringSet(train, [], 3).labels).toEqual(gateScoringSet(train, [], 3).labels);
    expect(() =>
      gateScoringSet({ ...train, labels: labels.subarray(0, 5), images: train.images.subarray(0, 5) }, range(0, 5), 3),
    ).toThrow(/no training image of toy is left/);
  });
});

describe("the gate's random draws by default", () => {
  // a Pipeline makes its run folder: a scratch one, never runs/ in the checkout
  const scratch = mkdtempSync(join(tmpdir(), "gate-draws-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const pipeline = (...argv: string[]) => {
    const o = addRunOptions(new Command())
      .parse([...argv, "--out", scratch], { from: "user" })
      .opts<CliOptions>();
    return new Pipeline(o, "distill run");
  };

  it("weighs five random subsets at one image per class, (b)'s alone above, and --gate-draws overrides", () => {
    expect(defaultGateDraws(1)).toBe(5);
    for (const ipc of [2, 10, 50]) expect(defaultGateDraws(ipc)).toBe(1);
    expect(pipeline("--ipc", "1").gateDraws).toBe(5);
    expect(pipeline("--ipc", "10").gateDraws).toBe(1);
    expect(pipeline("--ipc", "1", "--gate-draws", "2").gateDraws).toBe(2);
    expect(pipeline("--ipc", "10", "--gate-draws", "3").gateDraws).toBe(3);
  });

  it("a default never refuses a run without the gate; an explicit --gate-draws does", () => {
    expect(() => pipeline("--ipc", "1", "--no-recover-gate")).not.toThrow();
    expect(() => pipeline("--ipc", "1", "--init", "noise")).not.toThrow();
    expect(() => pipeline("--ipc", "1", "--init", "noise", "--gate-draws", "5")).toThrow(/drop --gate-draws/);
  });
});
