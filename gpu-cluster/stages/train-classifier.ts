// The classifier-training loop of squeeze (the teacher, on real images) and evaluate (students,
// on a distilled set's crops): every epoch, one training step per batch the caller builds, the
// learning rate on one cosine schedule over all steps; then the weights frozen into the
// inference graph and its top-1 on the real val set. The callers differ only in their batches,
// optimiser, loss and schedule.
import type { Graph } from "../graph/graph.ts";
import type { TensorData } from "../graph/types.ts";
import { cosineLr, type Optimizer } from "../autodiff/optimizers.ts";
import type { ChannelStats, Dataset } from "../data/index.ts";
import { inferenceGraph } from "../models/inference-graph.ts";
import type { ParamStore } from "../models/params.ts";
import type { ModelSpec } from "../models/zoo.ts";
import { Classifier } from "../runtime/inference.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { ClassifierTrainer, type ClassifierLoss } from "../training/classifier.ts";
import type { CheckpointIdentity } from "../training/checkpoint.ts";
import { topOneAccuracy } from "./accuracy.ts";
import { noProgress, type StartProgress } from "./progress.ts";

/** One step's inputs [N, C, H, W] and targets [N, K] (one-hot, mixed or soft). */
export interface TrainingBatch {
  x: TensorData;
  targets: TensorData;
}

/**
 * Where a training saves its state at epoch ends and goes on from after a stop (the CLI: a file in
 * the run's student cache). Only for trainings whose batches are a function of the epoch alone and
 * whose state is all in the training program: a resumed run then ends with the same weights.
 */
export interface CheckpointStore {
  /** Where it is kept, for messages (the CLI: the file). */
  name: string;
  /** What the checkpoint must be of: restored only where every field matches. */
  identity: CheckpointIdentity;
  /** The bytes saved last, if any. */
  read(): Uint8Array | undefined;
  save(bytes: Uint8Array): void;
  /** The least time between two saves. */
  everySeconds: number;
}

export interface ClassifierTraining {
  spec: ModelSpec;
  /** Initial weights; the trained ones are written back into it. */
  params: ParamStore;
  optimizer: Optimizer;
  loss?: ClassifierLoss;
  epochs: number;
  /** Batches per epoch: the schedule's length and the divisor of each epoch's mean loss. */
  stepsPerEpoch: number;
  /** The batches of one epoch, in order (built lazily: a caller's random draws interleave with them). */
  batches: (epoch: number) => Iterable<TrainingBatch>;
  lr: number;
  warmupSteps?: number;
  /** The cosine's stretch ζ (cosineLr; absent: 1, decay to 0). */
  lrStretch?: number;
  /** Progress label. */
  label: string;
  /** After every step (squeeze: the weight average reads the trainer's state here). */
  afterStep?: (trainer: ClassifierTrainer, step: number) => void | Promise<void>;
  /** After every epoch (squeeze: scores the weights on its held-out split); true stops training. */
  afterEpoch?: (trainer: ClassifierTrainer, epoch: number) => Promise<boolean | void>;
  /** The weights to freeze at the end (default: `params` as the last step left them). */
  finalParams?: () => ParamStore;
  checkpoints?: CheckpointStore;
}

export interface TrainedClassifier {
  /** The trained model, frozen (weights as initializers, BN in inference mode). */
  graph: Graph;
  /** Top-1 on the val set. */
  accuracy: number;
  /** Mean loss of each epoch. */
  losses: number[];
}

export async function trainClassifier(
  t: ClassifierTraining,
  val: Dataset,
  stats: ChannelStats,
  o: CompileOptions & { progress?: StartProgress } = {},
): Promise<TrainedClassifier> {
  const trainer = await ClassifierTrainer.compile(t.spec, t.params, { ...o, optimizer: t.optimizer, loss: t.loss });
  const total = t.epochs * t.stepsPerEpoch;
  const bar = (o.progress ?? noProgress)(t.label, total, "step");
  const losses: number[] = [];
  const store = t.checkpoints;
  if (store && (t.afterStep || t.afterEpoch || t.finalParams))
    throw new Error(
      "a checkpointed training keeps all its state in the program: no afterStep, afterEpoch or finalParams",
    );
  const saved = store?.read();
  if (store && saved) {
    losses.push(...trainer.restore(saved, store.identity, store.name).epochLosses);
    bar.update(trainer.stepCount, `resumed from a checkpoint after epoch ${losses.length}/${t.epochs}`);
  }
  let lastSave = Date.now();
  for (let e = losses.length; e < t.epochs; e++) {
    let sum = 0;
    for (const { x, targets } of t.batches(e)) {
      const step = trainer.stepCount; // restore sets it: the schedule goes on where the checkpoint left it
      const r = await trainer.step(x, targets, cosineLr(step, total, t.lr, t.warmupSteps ?? 0, t.lrStretch));
      sum += r.loss;
      await t.afterStep?.(trainer, step);
      bar.update(step + 1, `epoch ${e + 1}/${t.epochs} loss ${r.loss.toFixed(4)}`);
    }
    losses.push(sum / t.stepsPerEpoch);
    if (await t.afterEpoch?.(trainer, e)) break;
    if (store && e + 1 < t.epochs && Date.now() - lastSave >= store.everySeconds * 1000) {
      store.save(await trainer.checkpoint(store.identity, losses));
      lastSave = Date.now();
    }
  }
  await trainer.syncParams();
  await trainer.program.release();
  const graph = inferenceGraph(t.spec, t.finalParams?.() ?? t.params);
  const clf = await Classifier.fromGraph(graph, o);
  const accuracy = await topOneAccuracy((x) => clf.logits(x), val, stats);
  await clf.release();
  bar.stop(`val top-1 ${(accuracy * 100).toFixed(2)} %`);
  return { graph, accuracy, losses };
}
