// A classifier's training step as one compiled program: forward in train mode, loss, weight
// gradients, optimiser update and BN running-stat update, all one ORT run. Sits above models
// (the network), autodiff (loss, gradients, optimiser) and runtime (the program that runs it).
import { GraphBuilder, tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
import { gradients } from "../autodiff/gradients.ts";
import { crossEntropy, klDivergence } from "../autodiff/losses.ts";
import type { Optimizer, OptimizerUpdate } from "../autodiff/optimizers.ts";
import { ModelBuilder } from "../models/layers.ts";
import type { ParamStore } from "../models/params.ts";
import { buildModel, type ModelSpec } from "../models/zoo.ts";
import { Program, type CompileOptions } from "../runtime/program.ts";
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type CheckpointIdentity } from "./checkpoint.ts";

export type ClassifierLoss = { kind: "cross_entropy" } | { kind: "kl"; temperature: number };

export interface TrainStepOptions extends CompileOptions {
  optimizer: Optimizer;
  loss?: ClassifierLoss;
}

/** One training step per `run`: feeds x [N,C,H,W] and targets [N,K] (one-hot or soft probabilities). */
export class ClassifierTrainer {
  /** Steps run: the optimiser's step counter (a trainer resumed from a checkpoint sets it). */
  stepCount = 0;

  private constructor(
    readonly program: Program,
    private readonly update: OptimizerUpdate,
    private readonly params: ParamStore,
    private readonly stateNames: string[],
  ) {}

  static async compile(spec: ModelSpec, params: ParamStore, o: TrainStepOptions): Promise<ClassifierTrainer> {
    const b = new GraphBuilder(`${spec.arch}_train`);
    const x = b.input("x", "float32", ["N", spec.channels, spec.size, spec.size]);
    const targets = b.input("targets", "float32", ["N", spec.classes]);
    const m = new ModelBuilder(b, params, "train");
    const logits = buildModel(m, x, spec);
    const lossKind = o.loss ?? { kind: "cross_entropy" };
    const loss =
      lossKind.kind === "kl"
        ? klDivergence(b, logits, targets, lossKind.temperature)
        : crossEntropy(b, logits, targets);
    const grads = gradients(
      b,
      loss,
      m.weights.map((w) => w.value),
    );
    const update = o.optimizer.apply(
      b,
      m.weights.map((w, i) => ({ name: w.name, param: w.value, grad: grads[i] })),
    );
    b.output(loss, "loss");
    b.output(logits, "logits");
    const state = [...m.stateFor(update.updated), ...update.state];
    const program = await Program.compile(b.graph, state, o);
    return new ClassifierTrainer(program, update, params, [
      ...m.weights.map((w) => w.name),
      ...m.bufferUpdates.map((s) => s.input.name),
    ]);
  }

  /** Runs one step; returns the loss and the logits of this batch. */
  async step(x: TensorData, targets: TensorData, lr: number): Promise<{ loss: number; logits: Float32Array }> {
    const out = await this.program.run({ x, targets, ...this.update.feeds(this.stepCount++, lr) });
    return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array };
  }

  /** The program's whole state (weights, optimiser moments, BN statistics) after stepCount steps, with the caller's losses. */
  async checkpoint(identity: CheckpointIdentity, epochLosses: number[], epochSum = 0): Promise<Uint8Array> {
    const names = this.program.stateNames();
    const values = await this.program.getStates(names);
    const state = names.map((name, i) => ({ name, value: values[i] }));
    return encodeCheckpoint({ identity, step: this.stepCount, epochLosses, epochSum, state });
  }

  /**
   * Goes on from a checkpoint of `identity` (refused, naming the field, where it is of another
   * training); errors start with `from`, where the bytes came from (the CLI: the file).
   */
  restore(bytes: Uint8Array, identity: CheckpointIdentity, from: string): Checkpoint {
    let c: Checkpoint;
    try {
      c = decodeCheckpoint(bytes, identity);
    } catch (e) {
      throw new Error(`${from}: ${(e as Error).message}`);
    }
    for (const s of c.state) this.program.setState(s.name, s.value);
    this.stepCount = c.step;
    return c;
  }

  /** Copies the trained weights and BN statistics back into the parameter store. */
  async syncParams(): Promise<void> {
    const values = await this.program.getStates(this.stateNames);
    this.stateNames.forEach((n, i) => this.params.set(n, values[i]));
  }
}

/** One-hot targets [N, classes] of integer labels. */
export const oneHot = (labels: ArrayLike<number>, classes: number): TensorData => {
  const t = tensor("float32", [labels.length, classes]);
  for (let i = 0; i < labels.length; i++) (t.data as Float32Array)[i * classes + labels[i]] = 1;
  return t;
};
