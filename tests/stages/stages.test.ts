// Each stage on a tiny configuration, checked for its real effect: recover lowers its loss and
// makes images the teacher assigns to their targets; relabel's table decodes back to the
// teacher's soft labels of exactly the scheduled crops; a student trained from a table learns
// a separable task far above chance.
import { beforeAll, describe, expect, it } from "vitest";
import { cosineLr, sgd } from "../../gpu-cluster/autodiff/optimizers.ts";
import {
  channelStats,
  defaultAugment,
  epochBatches,
  loadMnist,
  makeBatch,
  Random,
  subset,
  type ChannelStats,
  type Dataset,
} from "../../gpu-cluster/data/index.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../../gpu-cluster/models/zoo.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { exportOnnx, inferenceGraph } from "../../gpu-cluster/models/inference-graph.ts";
import { ClassifierTrainer, oneHot } from "../../gpu-cluster/training/classifier.ts";
import { recover, type RecoverConfig } from "../../gpu-cluster/stages/recover.ts";
import { RecoverStep } from "../../gpu-cluster/stages/recover-step.ts";
import { relabel } from "../../gpu-cluster/stages/relabel.ts";
import { logSoftmax, logSumExp, softmaxRows } from "../../gpu-cluster/stages/softmax.ts";
import { trainStudent } from "../../gpu-cluster/stages/evaluate.ts";
import { cropBatch, imageOf, type ImageSet } from "../../gpu-cluster/stages/crops.ts";
import { argmax } from "../../gpu-cluster/stages/accuracy.ts";
import { randomRealSubset } from "../../gpu-cluster/stages/random-subset.ts";
import {
  kmeansClusters,
  kmeansOfPoints,
  selectByTeacher,
  selectKMeans,
  selectKMeansLabels,
} from "../../gpu-cluster/stages/select-real.ts";
import { klRows, selectByProbe } from "../../gpu-cluster/stages/select-probe.ts";
import { readTeacherFile, teacherDocString, zooTeacher } from "../../gpu-cluster/stages/teacher-file.ts";
import { frozenTeacher } from "../../gpu-cluster/stages/teacher-graph.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { writeFileAtomic } from "../../gpu-cluster/io/atomic-write.ts";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import {
  batchOrder,
  cropResize,
  defaultCropSchedule,
  interpolationMatrix,
  sampledCropMatrixT,
} from "../../shared/crop-schedule/index.ts";
import { decodeLabelTable, encodeLabelTable, QUANT_U8 } from "../../shared/label-table/index.ts";

const quiet = { threads: 2 }; // no `progress`: stages report nothing
let spec: ModelSpec;
let params: ParamStore;
let stats: ChannelStats;
let train: Dataset;

beforeAll(async () => {
  const mnist = loadMnist();
  train = subset(
    mnist.train,
    Array.from({ length: 4000 }, (_, i) => i),
  );
  stats = channelStats(train);
  spec = { arch: "convnet-2", classes: 10, channels: 1, size: 28, width: 16 };
  params = new ParamStore(3);
  const trainer = await ClassifierTrainer.compile(spec, params, {
    optimizer: sgd({ momentum: 0.9, weightDecay: 5e-4 }),
    threads: 2,
  });
  const rng = new Random(3);
  const batches = epochBatches(train.labels.length, 64, rng, true);
  for (const [i, idx] of batches.entries()) {
    const x = tensor("float32", [idx.length, 1, 28, 28], makeBatch(train, idx, stats, defaultAugment(train), rng));
    await trainer.step(
      x,
      oneHot(
        Array.from(idx, (j) => train.labels[j]),
        10,
      ),
      cosineLr(i, batches.length, 0.05),
    );
  }
  await trainer.syncParams();
});

const recoverCfg: RecoverConfig = {
  ipc: 2,
  iterations: 80,
  batch: 20,
  lr: 0.25,
  rBn: 0.01,
  firstBnMultiplier: 10,
  beta1: 0.5,
  beta2: 0.9,
  init: "noise",
  cropScale: [0.5, 1],
  flipProb: 0,
  seed: 1,
};

describe("recover", () => {
  it("lowers its loss and yields images the teacher classifies as their targets", async () => {
    const r = await recover(
      { source: { kind: "zoo", spec, params }, classes: 10, channels: 1, size: 28, stats },
      recoverCfg,
      undefined,
      quiet,
    );
    expect(r.batches).toHaveLength(1);
    const { first, last } = r.batches[0];
    expect(last.loss).toBeLessThan(0.2 * first.loss);
    expect(last.bn).toBeLessThan(first.bn);
    // Pixels stay valid, and the teacher (on the whole, uncropped images) sees the targets.
    expect(Math.min(...r.pixels)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...r.pixels)).toBeLessThanOrEqual(1);
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params));
    const x = Float32Array.from(r.pixels, (v) => (v - stats.mean[0]) / stats.std[0]);
    const logits = await clf.logits(tensor("float32", [20, 1, 28, 28], x));
    const hits = Array.from({ length: 20 }, (_, i) => argmax(logits, i * 10, 10) === Math.floor(i / 2)).filter(
      Boolean,
    ).length;
    expect(hits).toBeGreaterThanOrEqual(19);
  });

  it("real-image initialisation starts from the given real images (baseline b's subset)", async () => {
    const real = randomRealSubset(train, 2, 4);
    const r = await recover(
      { source: { kind: "zoo", spec, params }, classes: 10, channels: 1, size: 28, stats },
      { ...recoverCfg, init: "real", iterations: 1, lr: 1e-6 },
      real,
      quiet,
    );
    // After one tiny step each synthetic image is (almost exactly) its real starting image, of its class.
    let maxDiff = 0;
    for (let i = 0; i < r.pixels.length; i++) maxDiff = Math.max(maxDiff, Math.abs(r.pixels[i] - real.pixels[i]));
    expect(maxDiff).toBeLessThan(1e-3);
    expect(Array.from(real.labels)).toEqual(Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)));
  });

  it("a competing student: the images move to where it disagrees with the teacher, and stay the teacher's class", async () => {
    const real = randomRealSubset(train, 2, 4);
    // a student that has learnt little: 40 SGD steps on 640 images
    const studentParams = new ParamStore(11);
    const studentSpec: ModelSpec = { ...spec, width: 8 };
    const trainer = await ClassifierTrainer.compile(studentSpec, studentParams, { optimizer: sgd({ momentum: 0.9 }) });
    const rng = new Random(5);
    for (const idx of epochBatches(640, 16, rng, true)) {
      const x = tensor("float32", [idx.length, 1, 28, 28], makeBatch(train, idx, stats, defaultAugment(train), rng));
      await trainer.step(
        x,
        oneHot(
          Array.from(idx, (j) => train.labels[j]),
          10,
        ),
        0.02,
      );
    }
    await trainer.syncParams();
    const teacher = { source: { kind: "zoo" as const, spec, params }, classes: 10, channels: 1, size: 28, stats };
    const competitor = { kind: "zoo" as const, spec: studentSpec, params: studentParams };
    const run = (weight: number) =>
      recover(
        { ...teacher, competitor },
        { ...recoverCfg, init: "real", iterations: 40, lr: 0.05, rBn: 0.01, compete: { weight, temperature: 4 } },
        real,
        quiet,
      );
    const [watched, pushed] = [(await run(0)).batches[0], (await run(50)).batches[0]];
    // the same starting images: the same agreement at the first step
    expect(pushed.first.compete).toBeCloseTo(watched.first.compete!, 5);
    expect(pushed.last.compete!).toBeLessThan(pushed.first.compete!);
    expect(pushed.last.compete!).toBeLessThan(watched.last.compete! - 0.01);
    expect(pushed.last.ce).toBeLessThan(0.25 * pushed.first.ce);
    // a weight needs its student
    await expect(
      recover(teacher, { ...recoverCfg, init: "real", compete: { weight: 1, temperature: 4 } }, real, quiet),
    ).rejects.toThrow(/needs the competing student/);
  });

  it("turned crops (--recover-rotate): the step's crop is the shared cropResize; unturned it is the separable step; recover still converges", async () => {
    const teacher = { source: { kind: "zoo" as const, spec, params }, classes: 10, channels: 1, size: 28, stats };
    const real = randomRealSubset(train, 1, 4);
    const B = 10,
      H = 28;
    const x = Float32Array.from(real.pixels, (v) => (v - stats.mean[0]) / stats.std[0]);
    const init = tensor("float32", [B, 1, H, H], x);
    const base = {
      batch: B,
      channels: 1,
      size: H,
      cropSize: H,
      classes: 10,
      rBn: 0.01,
      firstBnMultiplier: 10,
      beta1: 0.5,
      beta2: 0.9,
      lower: [-stats.mean[0] / stats.std[0]],
      upper: [(1 - stats.mean[0]) / stats.std[0]],
    };
    const targets = oneHot(Array.from(real.labels), 10);
    const sampled = await RecoverStep.compile(teacher.source, { ...base, sampledCrop: true }, init, quiet);
    const separable = await RecoverStep.compile(teacher.source, base, init, quiet);
    // a turned, flipped crop: the graph's crops give the teacher's logits of cropResize's crops
    const box = { x: 3, y: 2, w: 20, h: 23, flip: true, angle: 27 };
    const turned = await sampled.stepSampled(sampledCropMatrixT(H, H, box, H, H), targets, 0, {
      ...base,
      sampledCrop: true,
    });
    const crops = new Float32Array(B * H * H);
    for (let i = 0; i < B; i++)
      crops.set(cropResize(x.subarray(i * H * H, (i + 1) * H * H), 1, H, H, box, H), i * H * H);
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params));
    const want = await clf.logits(tensor("float32", [B, 1, H, H], crops));
    for (let i = 0; i < want.length; i++) expect(turned.logits[i]).toBeCloseTo(want[i], 3);
    // the whole image unturned: both forms of the crop take the same steps
    sampled.reset(init);
    const whole = { x: 0, y: 0, w: H, h: H, flip: false };
    const eye = interpolationMatrix(H, 0, H, H);
    for (let it = 0; it < 3; it++) {
      const a = await sampled.stepSampled(sampledCropMatrixT(H, H, whole, H, H), targets, 0.1, {
        ...base,
        sampledCrop: true,
      });
      const b = await separable.step(eye, eye, targets, 0.1, base);
      expect(a.loss).toBeCloseTo(b.loss, 4);
    }
    const [xa, xb] = [(await sampled.images()).data as Float32Array, (await separable.images()).data as Float32Array];
    let worst = 0;
    for (let i = 0; i < xa.length; i++) worst = Math.max(worst, Math.abs(xa[i] - xb[i]));
    expect(worst).toBeLessThan(1e-4);
    await sampled.release();
    await separable.release();
    // the stage: turned crops still take the loss down and leave images of their targets
    const r = await recover(teacher, { ...recoverCfg, rotate: 30 }, undefined, quiet);
    expect(r.batches[0].last.loss).toBeLessThan(0.2 * r.batches[0].first.loss);
    await expect(recover({ ...teacher, size: 80 }, { ...recoverCfg, rotate: 30 }, undefined, quiet)).rejects.toThrow(
      /up to 64 px: drop --recover-rotate/,
    );
  });

  it("collage initialisation: four real images of the class at half size, the first of them baseline (b)'s", async () => {
    const ipc = 2;
    const real = randomRealSubset(train, 4 * ipc, 4);
    // the first ipc images per class of the larger draw are (b)'s subset
    const b = randomRealSubset(train, ipc, 4);
    expect(real.sources.filter((_, i) => i % (4 * ipc) < ipc)).toEqual(b.sources);
    const r = await recover(
      { source: { kind: "zoo", spec, params }, classes: 10, channels: 1, size: 28, stats },
      { ...recoverCfg, ipc, init: "collage", iterations: 1, lr: 1e-6 },
      real,
      quiet,
    );
    // synthetic image 2c+1: quadrant q is real image c·8 + 1 + 2q averaged 2×2 (bilinear at exactly half size)
    let maxDiff = 0;
    for (const c of [0, 7]) {
      for (let q = 0; q < 4; q++) {
        const src = real.pixels.subarray((c * 8 + 1 + 2 * q) * 784, (c * 8 + 2 + 2 * q) * 784);
        for (let y = 0; y < 14; y++) {
          for (let x = 0; x < 14; x++) {
            const want =
              (src[2 * y * 28 + 2 * x] +
                src[2 * y * 28 + 2 * x + 1] +
                src[(2 * y + 1) * 28 + 2 * x] +
                src[(2 * y + 1) * 28 + 2 * x + 1]) /
              4;
            const got = r.pixels[(2 * c + 1) * 784 + ((q >> 1) * 14 + y) * 28 + (q & 1) * 14 + x];
            maxDiff = Math.max(maxDiff, Math.abs(got - want));
          }
        }
      }
    }
    expect(maxDiff).toBeLessThan(1e-3);
    await expect(
      recover(
        { source: { kind: "zoo", spec, params }, classes: 10, channels: 1, size: 28, stats },
        { ...recoverCfg, ipc, init: "collage", iterations: 1 },
        b,
        quiet,
      ),
    ).rejects.toThrow(/needs 80 real images, got 20/);
  });
});

describe("selection of the real starting images", () => {
  /** The test teacher's logits of the candidates, computed here from the graph (not the code under test). */
  const teacherLogitsOf = async (candidates: ImageSet) =>
    await (
      await Classifier.fromGraph(inferenceGraph(spec, params))
    ).logits(
      tensor(
        "float32",
        [candidates.count, 1, 28, 28],
        Float32Array.from(candidates.pixels, (v) => (v - stats.mean[0]) / stats.std[0]),
      ),
    );

  it("typical / hard: each image is the lowest-CE / highest-CE correctly classified of its candidates", async () => {
    const ipc = 2,
      m = 4;
    const candidates = randomRealSubset(train, ipc * m, 5);
    const teacher = serializeModel(inferenceGraph(spec, params));
    const logits = await teacherLogitsOf(candidates);
    const row = (i: number) => Array.from(logits.subarray(i * 10, i * 10 + 10));
    const target = (i: number) => Math.floor(i / (ipc * m));
    const ce = (i: number) => {
      const max = Math.max(...row(i));
      return Math.log(row(i).reduce((a, v) => a + Math.exp(v - max), 0)) + max - row(i)[target(i)];
    };
    const correct = (i: number) => row(i)[target(i)] === Math.max(...row(i));
    for (const kind of ["typical", "hard"] as const) {
      const s = await selectByTeacher(
        kind,
        { candidates, classes: 10, ipc, m, seed: 0 },
        { onnx: teacher, stats, temperature: 4, threads: 2 },
      );
      expect(s.count).toBe(20);
      s.chosen.forEach((pick, i) => {
        const c = Math.floor(i / ipc),
          j = i % ipc;
        const group = Array.from({ length: m }, (_, q) => c * ipc * m + j + q * ipc);
        expect(group).toContain(pick);
        if (kind === "typical") for (const g of group) expect(ce(pick)).toBeLessThanOrEqual(ce(g) + 1e-5);
        else {
          if (group.some(correct)) expect(correct(pick)).toBe(true);
          for (const g of group.filter((g) => correct(g) === correct(pick)))
            expect(ce(pick)).toBeGreaterThanOrEqual(ce(g) - 1e-5);
        }
      });
      expect(Array.from(s.pixels.subarray(784, 1568))).toEqual(
        Array.from(candidates.pixels.subarray(s.chosen[1] * 784, (s.chosen[1] + 1) * 784)),
      );
    }
  });

  it("kmeans: one representative per mode of the class", () => {
    // class 0 has three well-separated modes (flat images at 0.1, 0.5, 0.9 plus noise), class 1 one
    const ipc = 3,
      m = 4,
      per = 16,
      n = 2 * ipc * m;
    const rng = new Random(9);
    const level = (i: number) => (i < ipc * m ? [0.1, 0.5, 0.9][i % 3] : 0.3);
    const pixels = Float32Array.from({ length: n * per }, (_, q) => level(Math.floor(q / per)) + 0.01 * rng.normal());
    const s = selectKMeans({ candidates: { pixels, count: n, channels: 1, size: 4 }, classes: 2, ipc, m, seed: 1 });
    expect(
      s.chosen
        .slice(0, 3)
        .map((i) => level(i))
        .sort(),
    ).toEqual([0.1, 0.5, 0.9]);
    expect(new Set(s.chosen).size).toBe(6);
    expect(s.chosen.slice(3).every((i) => i >= ipc * m)).toBe(true);
  });

  it("kmeans-labels: k-means over the teacher's log-probabilities at T, not over pixels", async () => {
    const ipc = 3,
      m = 4,
      t = 4,
      n = ipc * m;
    const candidates = randomRealSubset(train, n, 8);
    const teacher = serializeModel(inferenceGraph(spec, params));
    const logits = await teacherLogitsOf(candidates);
    // the points, computed here from the definition: log(exp(l_k / t) / Σ_j exp(l_j / t))
    const points = Array.from({ length: candidates.count }, (_, i) => {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10), (v) => v / t);
      const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
      return Float32Array.from(row, (v) => v - lse);
    });
    const pool = { candidates, classes: 10, ipc, m, seed: 3 };
    const s = await selectKMeansLabels(pool, { ...quiet, onnx: teacher, stats, temperature: t });
    const expected = kmeansOfPoints(points, pool).flatMap((cl, c) => cl.centre.map((i) => c * n + i));
    expect(s.chosen).toEqual(expected);
    expect(new Set(s.chosen).size).toBe(10 * ipc);
    s.chosen.forEach((pick, i) => expect(Math.floor(pick / n)).toBe(Math.floor(i / ipc))); // each class from its own block
    expect(Array.from(s.pixels.subarray(784 * 4, 784 * 5))).toEqual(
      Array.from(candidates.pixels.subarray(s.chosen[4] * 784, (s.chosen[4] + 1) * 784)),
    );
    // a different view of the same images: it does not reduce to the pixel clusters
    expect(s.chosen).not.toEqual(selectKMeans(pool).chosen);
  });

  it("log-softmax: normalised, shift-invariant, sharper at lower temperature", () => {
    const rng = new Random(12);
    for (let trial = 0; trial < 20; trial++) {
      const row = Array.from({ length: 2 + rng.int(9) }, () => 20 * rng.normal());
      const t = 0.5 + 5 * rng.next();
      const l = logSoftmax(row, t);
      expect(Array.from(l).reduce((a, v) => a + Math.exp(v), 0)).toBeCloseTo(1, 5);
      const shifted = logSoftmax(
        row.map((v) => v + 1000),
        t,
      );
      l.forEach((v, k) => expect(shifted[k]).toBeCloseTo(v, 3));
      const top = row.indexOf(Math.max(...row));
      expect(logSoftmax(row, t / 2)[top]).toBeGreaterThanOrEqual(l[top] - 1e-6);
      // softmax rows are exp(log-softmax), and log-sum-exp stays finite far past exp's range
      const p = new Float32Array(row.length);
      softmaxRows(Float32Array.from(row), 1, row.length, t, p);
      p.forEach((v, k) => expect(v).toBeCloseTo(Math.exp(l[k]), 6));
      // and bit for bit the arithmetic relabel's tables were made with (exp in float32, / double sum)
      const x = Array.from(Float32Array.from(row));
      const max = Math.max(...x.map((v) => v / t));
      const e = Float32Array.from(x, (v) => Math.exp(v / t - max));
      const sum = x.reduce((a, v) => a + Math.exp(v / t - max), 0);
      expect(p).toEqual(e.map((v) => v / sum));
      expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 6);
    }
  });

  it("k-means over points: a candidate count that does not match is refused", () => {
    expect(() => kmeansOfPoints([new Float32Array(2)], { classes: 2, ipc: 1, m: 1, seed: 0 })).toThrow(
      /needs 2 candidates \(2 classes × 1 per class × 1 each\), got 1/,
    );
  });
});

describe("selection by a probe student", () => {
  it("KL rows: zero for equal logits, positive otherwise, equal to the definition", () => {
    const rng = new Random(4);
    const a = Float32Array.from({ length: 30 }, () => 3 * rng.normal());
    const b = Float32Array.from({ length: 30 }, () => 3 * rng.normal());
    const t = 2.5;
    const soft = (x: Float32Array, r: number) => {
      const row = Array.from(x.subarray(r * 10, r * 10 + 10), (v) => v / t);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      return row.map((v) => Math.exp(v) / z);
    };
    for (const v of klRows(a, a, 10, t)) expect(Math.abs(v)).toBeLessThan(1e-6);
    const kl = klRows(a, b, 10, t);
    for (let r = 0; r < 3; r++) {
      const p = soft(a, r),
        q = soft(b, r);
      expect(kl[r]).toBeGreaterThan(0);
      expect(kl[r]).toBeCloseTo(
        p.reduce((s, pk, k) => s + pk * Math.log(pk / q[k]), 0),
        4,
      );
    }
  });

  it("each k-means cluster keeps the member the probe disagrees with most, among those the teacher gets right", async () => {
    const ipc = 3,
      m = 5,
      n = ipc * m,
      t = 4;
    const candidates = randomRealSubset(train, n, 6);
    const teacher = serializeModel(inferenceGraph(spec, params));
    // the probe: an untrained student of the same shape, frozen (what the callback's contract asks)
    const probe = inferenceGraph(spec, new ParamStore(11));
    let probeSet: ImageSet | undefined;
    const pool = { candidates, classes: 10, ipc, m, seed: 2 };
    const s = await selectByProbe(pool, { onnx: teacher, stats, temperature: t }, async (set) => {
      probeSet = set;
      return { graph: probe, accuracy: 0.1 };
    });
    const clusters = kmeansClusters(pool);
    // the probe was trained on the k-means choice
    expect(probeSet!.pixels).toEqual(selectKMeans(pool).pixels);
    const x = tensor(
      "float32",
      [candidates.count, 1, 28, 28],
      Float32Array.from(candidates.pixels, (v) => (v - stats.mean[0]) / stats.std[0]),
    );
    const tl = await (await Classifier.fromGraph(inferenceGraph(spec, params))).logits(x);
    const kl = klRows(tl, await (await Classifier.fromGraph(probe)).logits(x), 10, t);
    const right = (i: number) => argmax(tl, i * 10, 10) === Math.floor(i / n);
    expect(s.count).toBe(30);
    expect(new Set(s.chosen).size).toBe(30);
    s.chosen.forEach((pick, i) => {
      const c = Math.floor(i / ipc),
        k = i % ipc;
      const own = [...clusters[c].members[k], clusters[c].centre[k]].map((j) => c * n + j);
      expect(own).toContain(pick);
      const taken = new Set(s.chosen.slice(c * ipc, i));
      for (const j of own.filter((j) => !taken.has(j) && right(j))) {
        expect(right(pick)).toBe(true);
        expect(kl[pick]).toBeGreaterThanOrEqual(kl[j] - 1e-9);
      }
    });
    expect(s.meanKl.chosen).toBeGreaterThan(s.meanKl.candidates);

    // probe-cover: pixel k-means with each candidate weighted 1 + KL / (class mean KL) where the teacher is right
    const cover = await selectByProbe(
      pool,
      { onnx: teacher, stats, temperature: t },
      async () => ({ graph: probe, accuracy: 0.1 }),
      "cover",
    );
    const weights = Float64Array.from(kl, (v, i) => {
      const c = Math.floor(i / n);
      const mean = kl.subarray(c * n, (c + 1) * n).reduce((a, b) => a + b, 0) / n;
      return 1 + (right(i) ? v / mean : 0);
    });
    const points = Array.from({ length: candidates.count }, (_, i) => imageOf(candidates, i));
    const expected = kmeansOfPoints(points, pool, 25, weights).flatMap((cl, c) => cl.centre.map((i) => c * n + i));
    expect(cover.chosen).toEqual(expected);
    expect(cover.chosen).not.toEqual(selectKMeans(pool).chosen); // the weights moved some centres
  });
});

describe("teacher files", () => {
  it("a squeeze teacher file is rebuilt natively (weights, BN statistics) and imported node by node, both with the file's logits", async () => {
    const note = { arch: spec.arch, classes: 10, channels: 1, size: 28, width: 16, mean: stats.mean, std: stats.std };
    const file = "test-output/stages/teacher.onnx";
    writeFileAtomic(file, serializeModel(inferenceGraph(spec, params), { docString: teacherDocString(note) }));
    const tf = readTeacherFile(file);
    expect(tf.note?.arch).toBe("convnet-2");
    expect(tf.inputShape).toEqual([1, 28, 28]);
    const x = tensor(
      "float32",
      [4, 1, 28, 28],
      Float32Array.from({ length: 4 * 784 }, (_, i) => Math.sin(i)),
    );
    const want = await (await Classifier.fromGraph(inferenceGraph(spec, params))).logits(x);
    for (const source of [zooTeacher(tf)!, { kind: "onnx" as const, bytes: tf.bytes, file }]) {
      const b = new GraphBuilder("t");
      const inp = b.input("x", "float32", ["N", 1, 28, 28]);
      const t = frozenTeacher(b, inp, source);
      expect(t.batchNorms).toHaveLength(2);
      b.output(t.logits, "logits");
      const got = await (await Classifier.fromGraph(b.graph)).logits(x);
      expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-4);
    }
  });

  it("a file that is not ONNX is refused with the path and the fix", () => {
    writeFileAtomic("test-output/stages/junk.onnx", "definitely not a model");
    expect(() => readTeacherFile("test-output/stages/junk.onnx")).toThrow(/junk\.onnx: not an ONNX model/);
    expect(() => readTeacherFile("test-output/stages/missing.onnx")).toThrow(/cannot read it/);
  });
});

describe("relabel", () => {
  const images = (): ImageSet => {
    const set = subset(
      train,
      Array.from({ length: 30 }, (_, i) => i),
    );
    return { pixels: Float32Array.from(set.images, (v) => v / 255), count: 30, channels: 1, size: 28 };
  };
  const cfg = (seed: number) => ({
    epochs: 3,
    k: 10,
    quant: "u8" as const,
    temperature: 4,
    runId: "test",
    batch: 16,
    schedule: defaultCropSchedule({ seed, sourceSize: 28, outputSize: 28, scale: [0.3, 1], flipProb: 0.5 }),
  });

  it("stores the teacher's soft labels of exactly the scheduled crops, within the quantisation error", async () => {
    const set = images();
    const teacher = exportOnnx(spec, params);
    const c = cfg(5);
    const r = await relabel(teacher, stats, set, 10, c, quiet);
    expect(r.fp32Bytes).toBe(3 * 30 * 10 * 4);
    const table = decodeLabelTable(r.table);
    expect(table.header.images).toBe(30);
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params));
    let maxErr = 0;
    for (let e = 0; e < 3; e++) {
      const slots = Array.from({ length: 30 }, (_, s) => s);
      const logits = await clf.logits(tensor("float32", [30, 1, 28, 28], cropBatch(c.schedule, e, slots, set, stats)));
      const probs = new Float32Array(300);
      softmaxRows(logits, 30, 10, 4, probs);
      for (const s of slots) {
        const dense = table.dense(e, s, 0);
        for (let k = 0; k < 10; k++) maxErr = Math.max(maxErr, Math.abs(dense[k] - probs[s * 10 + k]));
      }
    }
    // u8 stores round(p·255): at most half a step off, plus float noise and the spread remainder.
    expect(maxErr).toBeLessThan(0.5 / 255 + 2e-3);
  });

  it("is deterministic for one seed and different across seeds", async () => {
    const set = images();
    const teacher = exportOnnx(spec, params);
    const a = await relabel(teacher, stats, set, 10, cfg(7), quiet);
    const b = await relabel(teacher, stats, set, 10, cfg(7), quiet);
    const c = await relabel(teacher, stats, set, 10, cfg(8), quiet);
    expect(Buffer.from(a.table).equals(Buffer.from(b.table))).toBe(true);
    expect(Buffer.from(a.table).equals(Buffer.from(c.table))).toBe(false);
    expect(Array.from(batchOrder(7, 0, 30))).not.toEqual(Array.from(batchOrder(8, 0, 30)));
  });

  it("a label budget of P epochs serves a longer student run by reusing them; a table too short is refused", async () => {
    const set = images();
    const teacher = exportOnnx(spec, params);
    const c = cfg(5); // 3 labelled epochs
    const { table } = await relabel(teacher, stats, set, 10, c, quiet);
    const labels = { kind: "soft" as const, table, temperature: 4 };
    const student = { arch: "convnet-2", width: 4, batch: 15, lr: 0.003, weightDecay: 0.01, seed: 1 };
    const val = subset(
      train,
      Array.from({ length: 20 }, (_, i) => 100 + i),
    );
    const run = (epochs: number, labelEpochs?: number) =>
      trainStudent(set, labels, c.schedule, epochs, 10, student, val, stats, { ...quiet, labelEpochs });
    await expect(run(6)).rejects.toThrow(/epochs 3.*does not match the student run.*epochs 6/);
    const reused = await run(6, 3);
    expect(reused.losses).toHaveLength(6); // one mean loss per epoch
    // a budget at least as long as the run changes nothing
    expect((await run(3, 5)).losses).toEqual((await run(3)).losses);
  });
});

describe("evaluate", () => {
  /** 4 classes of 16×16 images: a bright 8×8 square in quadrant c, on noise. */
  function quadrants(perClass: number, seed: number): { set: ImageSet; data: Dataset } {
    const rng = new Random(seed);
    const n = 4 * perClass;
    const pixels = new Float32Array(n * 256);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(i / perClass);
      labels[i] = c;
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) {
          const inside = y < 8 === c < 2 && x < 8 === (c % 2 === 0);
          pixels[i * 256 + y * 16 + x] = Math.min(1, Math.max(0, (inside ? 0.8 : 0.1) + 0.1 * rng.normal()));
        }
    }
    const data: Dataset = {
      images: pixels,
      labels,
      classes: ["a", "b", "c", "d"],
      channels: 1,
      height: 16,
      width: 16,
      name: "quadrants",
    };
    return { set: { pixels, count: n, channels: 1, size: 16 }, data };
  }

  it("a student trained on crops with hard labels learns a separable task far above chance", async () => {
    const { set, data } = quadrants(5, 1);
    const { data: val } = quadrants(50, 2);
    const schedule = defaultCropSchedule({ seed: 3, sourceSize: 16, outputSize: 16, scale: [0.8, 1], flipProb: 0 });
    const r = await trainStudent(
      set,
      { kind: "hard", labels: data.labels },
      schedule,
      15,
      4,
      { arch: "convnet-2", width: 8, batch: 10, lr: 0.01, weightDecay: 0.01, seed: 1 },
      val,
      { mean: [0.3], std: [0.3] },
      quiet,
    );
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]);
    expect(r.accuracy).toBeGreaterThan(0.9);
  });

  it("HALD's hard-label phase teaches the classes a table does not carry, on crops past the label budget", async () => {
    const { set } = quadrants(5, 1);
    const { data: val } = quadrants(50, 2);
    const schedule = defaultCropSchedule({ seed: 3, sourceSize: 16, outputSize: 16, scale: [0.8, 1], flipProb: 0 });
    // a table that says nothing: every crop of its one labelled epoch uniform over the 4 classes
    const uniformTable = (epochs: number) =>
      encodeLabelTable(
        { classes: 4, images: 20, epochs, cropsPerImage: 1, k: 4, quant: QUANT_U8, seed: 3, runId: "uniform" },
        Array.from({ length: epochs }, () => new Float32Array(20 * 4).fill(0.25)),
      );
    const uniform = uniformTable(1);
    const train = (hardPhase?: { fraction: number; smoothing: number }, labelEpochs = 1) =>
      trainStudent(
        set,
        { kind: "soft", table: labelEpochs === 1 ? uniform : uniformTable(labelEpochs), temperature: 1 },
        schedule,
        12,
        4,
        { arch: "convnet-2", width: 8, batch: 10, lr: 0.01, weightDecay: 0.01, seed: 1, hardPhase },
        val,
        { mean: [0.3], std: [0.3] },
        { ...quiet, labelEpochs },
      );
    const soft = await train();
    const phase = { fraction: 0.75, smoothing: 0.1 }; // epochs 1–9 hard, 0 and 10–11 soft
    const hald = await train(phase);
    expect(soft.accuracy).toBeLessThan(0.6);
    expect(hald.accuracy).toBeGreaterThan(0.9);
    expect(hald.losses[0]).toBe(soft.losses[0]); // the same first (soft) epoch
    // the hard epochs take their own epochs' crops whatever the label budget: with one labelled
    // epoch or twelve, epochs 0–9 are the same steps (soft epoch 10 then reuses epoch 0 or not)
    const everyEpochLabelled = await train(phase, 12);
    expect(everyEpochLabelled.losses.slice(0, 10)).toEqual(hald.losses.slice(0, 10));
    expect(everyEpochLabelled.losses[10]).not.toBe(hald.losses[10]);
    // a share of 0 is no hard phase at all
    expect((await train({ fraction: 0, smoothing: 0.1 })).losses).toEqual(soft.losses);
    // classes are read as N / classes images each, class by class: a set that cannot be is refused
    const odd = { ...set, count: 18, pixels: set.pixels.subarray(0, 18 * 256) };
    await expect(
      trainStudent(
        odd,
        { kind: "soft", table: uniform, temperature: 1 },
        schedule,
        2,
        4,
        {
          arch: "convnet-2",
          width: 8,
          batch: 10,
          lr: 0.01,
          weightDecay: 0.01,
          seed: 1,
          hardPhase: { fraction: 0.5, smoothing: 0 },
        },
        val,
        { mean: [0.3], std: [0.3] },
        quiet,
      ),
    ).rejects.toThrow(/does not match the student run|same number of images in every class/);
  });

  it("a student on hard labels takes its own epochs' crops: the soft labels' budget does not reach it", async () => {
    const { set, data } = quadrants(5, 1);
    const { data: val } = quadrants(10, 2);
    const schedule = defaultCropSchedule({ seed: 3, sourceSize: 16, outputSize: 16, scale: [0.5, 1], flipProb: 0 });
    const student = { arch: "convnet-2", width: 4, batch: 10, lr: 0.01, weightDecay: 0.01, seed: 1 };
    const losses = async (labelEpochs: number) =>
      (
        await trainStudent(
          set,
          { kind: "hard", labels: data.labels },
          schedule,
          4,
          4,
          student,
          val,
          { mean: [0.3], std: [0.3] },
          { ...quiet, labelEpochs },
        )
      ).losses;
    // (a)'s student key leaves the label budget out (student-cache.ts): this is why that is right
    expect(await losses(1)).toEqual(await losses(4));
  });

  it("a student's cosine stretch reaches its steps: ζ = 1 is the plain schedule, ζ = 4 another run", async () => {
    const { set, data } = quadrants(5, 1);
    const { data: val } = quadrants(10, 2);
    const schedule = defaultCropSchedule({ seed: 3, sourceSize: 16, outputSize: 16, scale: [0.8, 1], flipProb: 0 });
    const student = { arch: "convnet-2", width: 4, batch: 10, lr: 0.01, weightDecay: 0.01, seed: 1 };
    const losses = async (lrStretch?: number) =>
      (
        await trainStudent(
          set,
          { kind: "hard", labels: data.labels },
          schedule,
          4,
          4,
          { ...student, lrStretch },
          val,
          {
            mean: [0.3],
            std: [0.3],
          },
          quiet,
        )
      ).losses;
    const plain = await losses();
    expect(await losses(1)).toEqual(plain);
    const stretched = await losses(4);
    expect(stretched[0]).toBe(plain[0]); // epoch 0's losses are measured before a rate differs (step 0: base)
    expect(stretched.at(-1)).not.toBe(plain.at(-1)); // later steps run at up to base·(1 + cos(π/4))/2 more
  });
});
