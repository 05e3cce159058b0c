// Squeeze (SRe2L §3.1): train the teacher on the real training set with the usual recipe —
// SGD with momentum and weight decay, cosine learning rate with a short warm-up, random crop
// (zero padding) and flip where the data allows — then freeze it into an .onnx file whose BN
// layers carry the running statistics that recover will match.
import { tensor } from "../graph/builder.ts";
import { sgd, cosineLr } from "../autodiff/optimizers.ts";
import { channelStats, epochBatches, makeBatch, Random, type AugmentOptions, type DatasetSplits } from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import { inferenceGraph } from "../models/inference-graph.ts";
import { ClassifierTrainer, oneHot } from "../training/classifier.ts";
import { Classifier } from "../runtime/inference.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { noProgress, type StartProgress } from "./progress.ts";
import { topOneAccuracy } from "./accuracy.ts";
import { teacherDocString, type TeacherNote } from "./teacher-file.ts";

export interface SqueezeConfig {
  arch: string;
  /** First-stage width (ConvNet width, ResNet base planes); undefined = the architecture's own. */
  width?: number;
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupEpochs: number;
  augment: AugmentOptions;
  seed: number;
}

export interface SqueezeResult {
  onnx: Uint8Array;
  note: TeacherNote;
  accuracy: number;
  losses: number[];
}

export function datasetSize(d: { height: number; width: number; name: string }): number {
  if (d.height !== d.width) throw new Error(`${d.name}: images are ${d.height}×${d.width}; the model zoo takes square images (resize the image folder with a square --resolution)`);
  return d.height;
}

export async function squeeze(data: DatasetSplits, cfg: SqueezeConfig, o: CompileOptions & { progress?: StartProgress } = {}): Promise<SqueezeResult> {
  const { train, val } = data;
  const stats = channelStats(train);
  const spec: ModelSpec = { arch: cfg.arch, classes: train.classes.length, channels: train.channels, size: datasetSize(train), width: cfg.width };
  const params = new ParamStore(cfg.seed);
  const trainer = await ClassifierTrainer.compile(spec, params, { ...o, optimizer: sgd({ momentum: cfg.momentum, weightDecay: cfg.weightDecay }) });
  const rng = new Random(cfg.seed, "squeeze");
  const n = train.labels.length;
  const batch = Math.min(cfg.batch, n);
  const perEpoch = Math.floor(n / batch);
  const total = cfg.epochs * perEpoch;
  const bar = (o.progress ?? noProgress)("squeeze", total, "step");
  const losses: number[] = [];
  let step = 0;
  for (let e = 0; e < cfg.epochs; e++) {
    let sum = 0;
    for (const idx of epochBatches(n, batch, rng, true)) {
      const x = tensor("float32", [idx.length, spec.channels, spec.size, spec.size], makeBatch(train, idx, stats, cfg.augment, rng));
      const lr = cosineLr(step, total, cfg.lr, cfg.warmupEpochs * perEpoch);
      const r = await trainer.step(x, oneHot(Array.from(idx, (i) => train.labels[i]), spec.classes), lr);
      sum += r.loss;
      bar.update(++step, `epoch ${e + 1}/${cfg.epochs} loss ${r.loss.toFixed(3)}`);
    }
    losses.push(sum / perEpoch);
  }
  trainer.syncParams();
  await trainer.program.release();
  const graph = inferenceGraph(spec, params);
  const clf = await Classifier.fromGraph(graph, o);
  const accuracy = await topOneAccuracy((x) => clf.logits(x), val, stats);
  await clf.release();
  bar.stop(`val top-1 ${(accuracy * 100).toFixed(2)} %`);
  const note: TeacherNote = { arch: spec.arch, classes: spec.classes, channels: spec.channels, size: spec.size, width: cfg.width, mean: stats.mean, std: stats.std, accuracy };
  return { onnx: serializeModel(graph, { docString: teacherDocString(note) }), note, accuracy, losses };
}
