// Squeeze (SRe2L §3.1): train the teacher on the real training set with the usual recipe —
// SGD with momentum and weight decay, cosine learning rate after a one-epoch warm-up, random
// crop (zero padding) and flip where the data allows — then freeze it into an .onnx file whose
// BN layers carry the running statistics that recover will match.
//
// The epoch kept is chosen on a held-out split of the *training* images (data/split.ts); the
// test set only gets the final, reported score. How long to train follows from the training-set
// size (teacherEpochs), never from the dataset's name.
import { tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
import { sgd } from "../autodiff/optimizers.ts";
import {
  channelStats,
  epochBatches,
  makeBatch,
  Random,
  validationSplit,
  type AugmentOptions,
  type ChannelStats,
  type Dataset,
  type DatasetSplits,
} from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import { inferenceGraph } from "../models/inference-graph.ts";
import { Classifier } from "../runtime/inference.ts";
import type { ClassifierTrainer } from "../training/classifier.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import type { StartProgress } from "./progress.ts";
import { topOneAccuracy } from "./accuracy.ts";
import { trainClassifier } from "./train-classifier.ts";
import { teacherDocString, type TeacherNote } from "./teacher-file.ts";

export interface SqueezeConfig {
  arch: string;
  /** First-stage width (ConvNet width, ResNet base planes); undefined = the architecture's own. */
  width?: number;
  /** Epochs over the training images; undefined = teacherEpochs(their count). */
  epochs?: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupEpochs: number;
  augment: AugmentOptions;
  /** Targets (1 − ε)·one-hot + ε/K; 0 or undefined: one-hot. */
  labelSmoothing?: number;
  /** Per-step decay of an average of the weights (and BN statistics) scored beside the raw ones; 0 or undefined: none. */
  ema?: number;
  /** Pick the epoch on a held-out split of train (default true); false: all of train, last epoch. */
  holdout?: boolean;
  seed: number;
}

export interface EpochScore {
  epoch: number;
  /** Held-out top-1 of the weights as trained, and of their moving average (with cfg.ema). */
  raw: number;
  ema?: number;
}

export interface SqueezeResult {
  onnx: Uint8Array;
  note: TeacherNote;
  /** Top-1 of the kept weights on the test set (data.val): reported, never used to choose. */
  accuracy: number;
  losses: number[];
  epochs: number;
  /** Images trained on and held out. */
  fitImages: number;
  holdoutImages: number;
  /** Held-out scores per epoch and the weights kept (absent without a held-out split). */
  scores: EpochScore[];
  chosen?: { epoch: number; weights: "raw" | "ema"; holdout: number };
}

export function datasetSize(d: { height: number; width: number; name: string }): number {
  if (d.height !== d.width)
    throw new Error(
      `${d.name}: images are ${d.height}×${d.width}; the model zoo takes square images (resize the image folder with a square --resolution)`,
    );
  return d.height;
}

/**
 * Default teacher epochs for `n` training images: a budget of about 1 M images seen, so that
 * small sets get more passes (5 000 images: 200) and large ones fewer, between 2 and 200 epochs
 * (MNIST's 55 000: 18). The cost of an epoch grows with n, so the budget also caps the time.
 */
export function teacherEpochs(n: number): number {
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`teacherEpochs: need a positive image count, got ${n}`);
  return Math.min(200, Math.max(2, Math.round(1_000_000 / n)));
}

/** A deep copy of the store's values (the trainer's arrays are replaced, not reused, but a snapshot must not depend on that). */
function snapshot(p: ParamStore): ParamStore {
  const out = new ParamStore(p.seed, true);
  for (const name of p.names()) {
    const v = p.values.get(name)!;
    out.set(name, { ...v, shape: [...v.shape], data: v.data.slice() as TensorData["data"] });
    out.kinds.set(name, p.kinds.get(name)!);
  }
  return out;
}

async function heldOutAccuracy(
  spec: ModelSpec,
  params: ParamStore,
  d: Dataset,
  stats: ChannelStats,
  o: CompileOptions,
): Promise<number> {
  const clf = await Classifier.fromGraph(inferenceGraph(spec, params), o);
  try {
    return await topOneAccuracy((x) => clf.logits(x), d, stats);
  } finally {
    await clf.release();
  }
}

/** Exponential moving average of the trainer's weights and BN statistics, kept on the host. */
class WeightAverage {
  private avg?: Map<string, Float32Array>;
  private count = 0;
  constructor(
    private readonly decay: number,
    private readonly names: string[],
  ) {}

  async update(trainer: ClassifierTrainer): Promise<void> {
    // Warm start (as TensorFlow's ExponentialMovingAverage with num_updates): early steps weigh more.
    const d = Math.min(this.decay, (1 + this.count) / (10 + this.count));
    this.count++;
    const first = !this.avg;
    this.avg ??= new Map();
    const values = await trainer.program.getStates(this.names);
    for (const [i, name] of this.names.entries()) {
      const w = values[i].data as Float32Array;
      if (first) {
        this.avg.set(name, Float32Array.from(w));
        continue;
      }
      const a = this.avg.get(name)!;
      for (let j = 0; j < a.length; j++) a[j] = d * a[j] + (1 - d) * w[j];
    }
  }

  /** The averaged values over a copy of `base` (which supplies names, shapes and anything not averaged). */
  params(base: ParamStore): ParamStore {
    const out = snapshot(base);
    for (const [name, a] of this.avg ?? [])
      out.set(name, { dtype: "float32", shape: [...base.values.get(name)!.shape], data: a.slice() });
    return out;
  }
}

export async function squeeze(
  data: DatasetSplits,
  cfg: SqueezeConfig,
  o: CompileOptions & { progress?: StartProgress } = {},
): Promise<SqueezeResult> {
  const { val: test } = data;
  const stats = channelStats(data.train);
  const split = cfg.holdout === false ? undefined : validationSplit(data.train, cfg.seed);
  const train = split?.fit ?? data.train;
  const spec: ModelSpec = {
    arch: cfg.arch,
    classes: train.classes.length,
    channels: train.channels,
    size: datasetSize(train),
    width: cfg.width,
  };
  // One random stream, in the same order every run: each epoch's shuffle, then each batch's augmentation.
  const rng = new Random(cfg.seed, "squeeze");
  const n = train.labels.length;
  const batch = Math.min(cfg.batch, n);
  const perEpoch = Math.floor(n / batch);
  const epochs = cfg.epochs ?? teacherEpochs(n);
  const K = spec.classes;
  const eps = cfg.labelSmoothing ?? 0;
  const targets = (idx: Int32Array): TensorData => {
    const t = tensor("float32", [idx.length, K]);
    const td = t.data as Float32Array;
    td.fill(eps / K);
    idx.forEach((src, i) => {
      td[i * K + train.labels[src]] += 1 - eps;
    });
    return t;
  };
  const params = new ParamStore(cfg.seed);
  const scores: EpochScore[] = [];
  let best: { epoch: number; weights: "raw" | "ema"; holdout: number; params: ParamStore } | undefined;
  let average: WeightAverage | undefined;
  const { graph, accuracy, losses } = await trainClassifier(
    {
      spec,
      params,
      optimizer: sgd({ momentum: cfg.momentum, weightDecay: cfg.weightDecay }),
      epochs,
      stepsPerEpoch: perEpoch,
      lr: cfg.lr,
      // at most a fifth of the run: a 1-epoch run still gets its cosine decay
      warmupSteps: Math.min(cfg.warmupEpochs * perEpoch, Math.floor((epochs * perEpoch) / 5)),
      label: "squeeze",
      batches: function* () {
        for (const idx of epochBatches(n, batch, rng, true)) {
          yield {
            x: tensor(
              "float32",
              [idx.length, spec.channels, spec.size, spec.size],
              makeBatch(train, idx, stats, cfg.augment, rng),
            ),
            targets: targets(idx),
          };
        }
      },
      afterStep: cfg.ema
        ? (trainer) => {
            average ??= new WeightAverage(
              cfg.ema!,
              trainer.program.stateNames().filter((s) => params.values.has(s)),
            );
            return average.update(trainer);
          }
        : undefined,
      afterEpoch: split
        ? async (trainer, epoch) => {
            await trainer.syncParams();
            const score: EpochScore = {
              epoch: epoch + 1,
              raw: await heldOutAccuracy(spec, params, split.holdout, stats, o),
            };
            const emaParams = average?.params(params);
            if (emaParams) score.ema = await heldOutAccuracy(spec, emaParams, split.holdout, stats, o);
            scores.push(score);
            // Ties go to the later epoch (lower learning rate) and to the raw weights.
            if (!best || score.raw >= best.holdout)
              best = { epoch: epoch + 1, weights: "raw", holdout: score.raw, params: snapshot(params) };
            if (emaParams && score.ema! > best.holdout)
              best = { epoch: epoch + 1, weights: "ema", holdout: score.ema!, params: emaParams };
          }
        : undefined,
      finalParams: () => best?.params ?? params,
    },
    test,
    stats,
    o,
  );
  const note: TeacherNote = {
    arch: spec.arch,
    classes: spec.classes,
    channels: spec.channels,
    size: spec.size,
    width: cfg.width,
    mean: stats.mean,
    std: stats.std,
    accuracy,
  };
  const chosen = best && { epoch: best.epoch, weights: best.weights, holdout: best.holdout };
  return {
    onnx: serializeModel(graph, { docString: teacherDocString(note) }),
    note,
    accuracy,
    losses,
    epochs,
    fitImages: n,
    holdoutImages: split?.holdout.labels.length ?? 0,
    scores,
    chosen,
  };
}
