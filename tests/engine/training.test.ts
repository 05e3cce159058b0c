// Training end to end on the engine: optimiser semantics against a host reference of
// PyTorch's formulas, loss going down on a ResNet, determinism under a seed, and squeeze of a
// small ConvNet on real MNIST reaching ≥ 95 % test accuracy.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import { meanSquaredError } from "../../gpu-cluster/autodiff/losses.ts";
import { adam, adamw, cosineLr, sgd, type Optimizer } from "../../gpu-cluster/autodiff/optimizers.ts";
import { Program } from "../../gpu-cluster/runtime/program.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { inferenceGraph } from "../../gpu-cluster/models/inference-graph.ts";
import { ClassifierTrainer, oneHot } from "../../gpu-cluster/training/classifier.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import { channelStats, epochBatches, loadMnist, makeBatch, Random, subset } from "../../gpu-cluster/data/index.ts";
import { randn } from "./gradcheck.ts";

/** Minimises mean((w − c)²) for a few steps in the graph and returns the final w. */
async function runOptimizer(opt: Optimizer, w0: Float32Array, c: Float32Array, lrs: number[]): Promise<Float32Array> {
  const b = new GraphBuilder("opt");
  const w = b.input("w", "float32", [w0.length]);
  const target = b.constant(tensor("float32", [c.length], c));
  const loss = meanSquaredError(b, w, target);
  const [g] = gradients(b, loss, [w]);
  const up = opt.apply(b, [{ name: "w", param: w, grad: g }]);
  b.output(loss, "loss");
  const program = await Program.compile(b.graph, [
    { input: w, output: up.updated.get("w")!, init: tensor("float32", [w0.length], w0) },
    ...up.state,
  ]);
  for (let t = 0; t < lrs.length; t++) await program.run(up.feeds(t, lrs[t]));
  return (await program.getState("w")).data as Float32Array;
}

/** PyTorch's update rules, on the host, in float64. */
function reference(
  kind: "sgd" | "adam" | "adamw",
  w0: Float32Array,
  c: Float32Array,
  lrs: number[],
  h: { mu?: number; wd: number; b1?: number; b2?: number; eps?: number },
): Float64Array {
  const w = Float64Array.from(w0),
    m = new Float64Array(w.length),
    v = new Float64Array(w.length);
  lrs.forEach((lr, t) => {
    for (let i = 0; i < w.length; i++) {
      let g = (2 * (w[i] - c[i])) / w.length;
      if (kind === "sgd") {
        g += h.wd * w[i];
        m[i] = h.mu! * m[i] + g;
        w[i] -= lr * m[i];
      } else {
        if (kind === "adam") g += h.wd * w[i];
        else w[i] -= lr * h.wd * w[i];
        m[i] = h.b1! * m[i] + (1 - h.b1!) * g;
        v[i] = h.b2! * v[i] + (1 - h.b2!) * g * g;
        const mh = m[i] / (1 - h.b1! ** (t + 1)),
          vh = v[i] / (1 - h.b2! ** (t + 1));
        w[i] -= (lr * mh) / (Math.sqrt(vh) + h.eps!);
      }
    }
  });
  return w;
}

describe("optimisers match PyTorch's update rules", () => {
  const w0 = Float32Array.from(randn(7, 3)),
    c = Float32Array.from(randn(7, 4));
  const lrs = [0.1, 0.08, 0.05, 0.05, 0.02, 0.01];
  const cases: [string, Optimizer, Float64Array][] = [
    [
      "SGD momentum 0.9, weight decay 0.01",
      sgd({ momentum: 0.9, weightDecay: 0.01 }),
      reference("sgd", w0, c, lrs, { mu: 0.9, wd: 0.01 }),
    ],
    [
      "Adam betas (0.5, 0.9) as recover uses",
      adam({ beta1: 0.5, beta2: 0.9 }),
      reference("adam", w0, c, lrs, { b1: 0.5, b2: 0.9, eps: 1e-8, wd: 0 }),
    ],
    [
      "Adam with L2 weight decay",
      adam({ weightDecay: 0.05 }),
      reference("adam", w0, c, lrs, { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.05 }),
    ],
    [
      "AdamW decoupled weight decay 0.1",
      adamw({ weightDecay: 0.1 }),
      reference("adamw", w0, c, lrs, { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1 }),
    ],
  ];
  for (const [name, opt, want] of cases) {
    it(name, async () => {
      const got = await runOptimizer(opt, w0, c, lrs);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    });
  }

  it("cosine schedule with warm-up", () => {
    expect(cosineLr(0, 100, 1, 10)).toBeCloseTo(0.1);
    expect(cosineLr(10, 100, 1, 10)).toBeCloseTo(1);
    expect(cosineLr(55, 100, 1, 10)).toBeCloseTo(0.5);
    expect(cosineLr(100, 100, 1, 10)).toBeCloseTo(0);
  });

  it("a stretched cosine (EDC's ζ) is the first 1/ζ of a ζ-times-longer cosine, falling to base·(1 + cos(π/ζ))/2", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 20 }),
        fc.double({ min: 1, max: 8, noNaN: true }),
        (total, warmup, zeta) => {
          const T = total + warmup;
          const lrs = Array.from({ length: T + 1 }, (_, i) => cosineLr(i, T, 0.01, warmup, zeta));
          for (let i = warmup; i <= T; i++) {
            // the same rate as the plain cosine of a run ζ times as long (after the warm-up)
            const long = warmup + (T - warmup) * zeta;
            expect(lrs[i]).toBeCloseTo(cosineLr(i, long, 0.01, warmup), 9);
            if (i > warmup) expect(lrs[i]).toBeLessThanOrEqual(lrs[i - 1] + 1e-15);
          }
          expect(lrs[T]).toBeCloseTo((0.01 * (1 + Math.cos(Math.PI / zeta))) / 2, 9);
        },
      ),
    );
    expect(cosineLr(50, 100, 1, 0, 2)).toBeCloseTo((1 + Math.SQRT1_2) / 2);
    expect(cosineLr(100, 100, 1, 0, 2)).toBeCloseTo(0.5);
    for (const z of [0.5, 0, NaN]) expect(() => cosineLr(1, 10, 1, 0, z)).toThrow(/cosine stretch is at least 1/);
  });
});

describe("training steps", () => {
  const { train, val } = loadMnist();
  const stats = channelStats(train);

  it("lowers the loss of a small-stem ResNet-18 and updates BN running statistics", async () => {
    const spec = { arch: "resnet18", classes: 10, channels: 1, size: 28, width: 8 };
    const params = new ParamStore(5);
    const trainer = await ClassifierTrainer.compile(spec, params, { optimizer: adam() });
    const idx = Array.from({ length: 32 }, (_, i) => i);
    const x = tensor("float32", [32, 1, 28, 28], makeBatch(train, idx, stats));
    const y = oneHot(
      idx.map((i) => train.labels[i]),
      10,
    );
    const losses: number[] = [];
    for (let k = 0; k < 12; k++) losses.push((await trainer.step(x, y, 3e-3)).loss);
    expect(losses[0], losses.join(" ")).toBeGreaterThan(1.5);
    expect(losses[11], losses.join(" ")).toBeLessThan(0.3 * losses[0]);
    await trainer.syncParams();
    const rm = params.values.get("bn1.running_mean")!.data as Float32Array;
    expect(rm.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it("is deterministic under a seed", async () => {
    const run = async () => {
      const spec = { arch: "convnet-2", classes: 10, channels: 1, size: 28, width: 8 };
      const trainer = await ClassifierTrainer.compile(spec, new ParamStore(11), { optimizer: adam() });
      const idx = Array.from({ length: 16 }, (_, i) => i + 100);
      const x = tensor("float32", [16, 1, 28, 28], makeBatch(train, idx, stats));
      const y = oneHot(
        idx.map((i) => train.labels[i]),
        10,
      );
      const out: number[] = [];
      for (let k = 0; k < 3; k++) out.push((await trainer.step(x, y, 1e-3)).loss);
      return out;
    };
    expect(await run()).toEqual(await run());
  });

  // 3000 images × 3 epochs at batch 32 (282 steps): 96.3 % on seed 1 (seeds 1–3: 95.9–96.3 %);
  // untrained it is ≈ 10 %, and 100 steps reach only ≈ 92 %, so the bar catches broken or weak
  // training. Half the work of the former 5000 × 4 at batch 64 (97.2 %), which timed out on busy
  // machines.
  it("squeezes a ConvNet-3 on 3000 MNIST images to ≥ 95 % test accuracy", async () => {
    const n = 3000,
      epochs = 3,
      batch = 32;
    const tr = subset(
      train,
      Array.from({ length: n }, (_, i) => i),
    );
    const spec = { arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 32 };
    const params = new ParamStore(1);
    const trainer = await ClassifierTrainer.compile(spec, params, {
      optimizer: sgd({ momentum: 0.9, weightDecay: 5e-4 }),
    });
    const rng = new Random(1);
    const total = epochs * Math.ceil(n / batch);
    let step = 0;
    const epochLoss: number[] = [];
    for (let e = 0; e < epochs; e++) {
      let sum = 0,
        count = 0;
      for (const idx of epochBatches(n, batch, rng)) {
        const x = tensor("float32", [idx.length, 1, 28, 28], makeBatch(tr, idx, stats, { pad: 2, flip: false }, rng));
        const r = await trainer.step(
          x,
          oneHot(
            Array.from(idx, (i) => tr.labels[i]),
            10,
          ),
          cosineLr(step++, total, 0.05),
        );
        sum += r.loss;
        count++;
      }
      epochLoss.push(sum / count);
    }
    expect(epochLoss[epochs - 1]).toBeLessThan(epochLoss[0]);
    await trainer.syncParams();
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params));
    let correct = 0;
    const testN = 2000;
    for (let s = 0; s < testN; s += 500) {
      const idx = Array.from({ length: 500 }, (_, i) => s + i);
      const logits = await clf.logits(tensor("float32", [500, 1, 28, 28], makeBatch(val, idx, stats)));
      for (let i = 0; i < 500; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        if (best === val.labels[s + i]) correct++;
      }
    }
    expect(correct / testN, `accuracy ${correct / testN}, epoch losses ${epochLoss.join(" ")}`).toBeGreaterThanOrEqual(
      0.95,
    );
  });
});
