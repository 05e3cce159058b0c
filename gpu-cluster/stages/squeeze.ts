// Squeeze (SRe2L §3.1): train the teacher on the real training set with the usual recipe —
// SGD with momentum and weight decay, cosine learning rate with a short warm-up, random crop
// (zero padding) and flip where the data allows — then freeze it into an .onnx file whose BN
// layers carry the running statistics that recover will match.
import { tensor } from "../graph/builder.ts";
import { sgd } from "../autodiff/optimizers.ts";
import { channelStats, epochBatches, makeBatch, Random, type AugmentOptions, type DatasetSplits } from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import { oneHot } from "../training/classifier.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import type { StartProgress } from "./progress.ts";
import { trainClassifier } from "./train-classifier.ts";
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
  // One random stream, in the same order every run: each epoch's shuffle, then each batch's augmentation.
  const rng = new Random(cfg.seed, "squeeze");
  const n = train.labels.length;
  const batch = Math.min(cfg.batch, n);
  const perEpoch = Math.floor(n / batch);
  const { graph, accuracy, losses } = await trainClassifier({
    spec, params: new ParamStore(cfg.seed), optimizer: sgd({ momentum: cfg.momentum, weightDecay: cfg.weightDecay }),
    epochs: cfg.epochs, stepsPerEpoch: perEpoch, lr: cfg.lr, warmupSteps: cfg.warmupEpochs * perEpoch, label: "squeeze",
    batches: function* () {
      for (const idx of epochBatches(n, batch, rng, true)) {
        yield {
          x: tensor("float32", [idx.length, spec.channels, spec.size, spec.size], makeBatch(train, idx, stats, cfg.augment, rng)),
          targets: oneHot(Array.from(idx, (i) => train.labels[i]), spec.classes),
        };
      }
    },
  }, val, stats, o);
  const note: TeacherNote = { arch: spec.arch, classes: spec.classes, channels: spec.channels, size: spec.size, width: cfg.width, mean: stats.mean, std: stats.std, accuracy };
  return { onnx: serializeModel(graph, { docString: teacherDocString(note) }), note, accuracy, losses };
}
