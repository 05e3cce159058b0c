// Layers on top of the graph builder. A ModelBuilder knows whether the model is being built
// for training (weights are graph inputs threaded as state; BatchNorm uses batch statistics
// and returns updated running statistics) or as a frozen network (weights are initializers,
// BatchNorm uses running statistics). It records every BatchNorm layer's input and running
// statistics: recover's BN-matching loss is built from that list.
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";
import type { StateBinding } from "../graph/state-binding.ts";
import { kaimingConv, linearDefault } from "./init.ts";
import type { ParamStore } from "./params.ts";

export interface BatchNormRecord {
  name: string;
  /** The BN layer's input; recover compares its batch statistics with the running ones. */
  input: Value;
  runningMean: Value;
  runningVar: Value;
}

export type ModelMode = "train" | "frozen";

export class ModelBuilder {
  /** Trainable weights (graph inputs, in train mode). */
  readonly weights: { name: string; value: Value }[] = [];
  /** Buffers updated by the forward pass (BN running stats) in train mode. */
  readonly bufferUpdates: StateBinding[] = [];
  readonly batchNorms: BatchNormRecord[] = [];

  constructor(
    readonly b: GraphBuilder,
    readonly params: ParamStore,
    readonly mode: ModelMode,
    readonly bnMomentum = 0.1,
  ) {}

  private value(
    name: string,
    shape: number[],
    init: Parameters<ParamStore["get"]>[2],
    kind: "weight" | "buffer",
  ): Value {
    const data = this.params.get(name, shape, init, kind);
    if (this.mode === "frozen") return this.b.initializer(name, data);
    const v = this.b.input(name, "float32", shape);
    if (kind === "weight") this.weights.push({ name, value: v });
    return v;
  }

  weight(name: string, shape: number[], init: Parameters<ParamStore["get"]>[2]): Value {
    return this.value(name, shape, init, "weight");
  }

  conv2d(
    x: Value,
    name: string,
    cout: number,
    k: number,
    o: { stride?: number; pad?: number; bias?: boolean; groups?: number } = {},
  ): Value {
    const cin = x.shape[1] as number;
    const g = o.groups ?? 1;
    const w = this.weight(`${name}.weight`, [cout, cin / g, k, k], kaimingConv(cout, [k, k]));
    const bias = o.bias ? this.weight(`${name}.bias`, [cout], linearDefault((cin * k * k) / g)) : null;
    const s = o.stride ?? 1,
      p = o.pad ?? 0;
    return this.b.conv(x, w, bias, { strides: [s, s], pads: [p, p, p, p], group: g }, name);
  }

  batchNorm(x: Value, name: string, eps = 1e-5): Value {
    const c = x.shape[1] as number;
    const scale = this.weight(`${name}.weight`, [c], { kind: "ones" });
    const bias = this.weight(`${name}.bias`, [c], { kind: "zeros" });
    const mean = this.value(`${name}.running_mean`, [c], { kind: "zeros" }, "buffer");
    const variance = this.value(`${name}.running_var`, [c], { kind: "ones" }, "buffer");
    this.batchNorms.push({ name, input: x, runningMean: mean, runningVar: variance });
    if (this.mode === "frozen")
      return this.b.op1("BatchNormalization", [x, scale, bias, mean, variance], { epsilon: eps }, name);
    // ONNX momentum weights the old running value (PyTorch's momentum m ↔ ONNX 1 − m).
    // ORT's CPU kernel writes the new running statistics into the buffers of its running-mean/
    // variance inputs, even when they are graph inputs fed by the caller (ORT 1.30; the mean only
    // with graph optimisations off). BN reads a copy of the variance, so the fed tensor and the
    // correction below, which reads it, keep the old value; nothing else reads the mean.
    const varCopy = this.b.op1("Max", [variance, this.b.scalar(0)], {}, `${name}.running_var_copy`);
    const [y, newMean, biasedVar] = this.b.op(
      "BatchNormalization",
      [x, scale, bias, mean, varCopy],
      { epsilon: eps, momentum: 1 - this.bnMomentum, training_mode: 1 },
      { name },
    );
    const newVar = this.b.scope(`${name}.unbiased`, () => this.unbiasedRunningVar(x, variance, biasedVar));
    this.bufferUpdates.push(
      { input: mean, output: newMean, init: this.params.values.get(`${name}.running_mean`)! },
      { input: variance, output: newVar, init: this.params.values.get(`${name}.running_var`)! },
    );
    return y;
  }

  /** Per-sample, per-channel normalisation with an affine map (PyTorch's GroupNorm(C, C)): no running statistics. */
  instanceNorm(x: Value, name: string, eps = 1e-5): Value {
    const c = x.shape[1] as number;
    const scale = this.weight(`${name}.weight`, [c], { kind: "ones" });
    const bias = this.weight(`${name}.bias`, [c], { kind: "zeros" });
    return this.b.op1("InstanceNormalization", [x, scale, bias], { epsilon: eps }, name);
  }

  /**
   * ORT's training-mode BatchNormalization folds the biased batch variance into the running
   * variance; PyTorch (whose teachers' statistics recover matches, and whose recipe we follow)
   * folds the unbiased one. With n values per channel the batch part m·σ²_b is rescaled by
   * n/(n − 1): new = old·(1 − m) + m·σ²_b·n/(n − 1) = ortNew + (ortNew − (1 − m)·old)/(n − 1).
   */
  private unbiasedRunningVar(x: Value, oldVar: Value, ortNew: Value): Value {
    const { b } = this;
    const c = x.shape[1] as number;
    const staticN = x.shape.every((d) => typeof d === "number")
      ? (x.shape as number[]).reduce((p, d) => p * d, 1) / c
      : null;
    const nMinus1 =
      staticN !== null
        ? b.scalar(staticN - 1)
        : b.sub(b.scale(b.op1("ReduceProd", [b.cast(b.shapeOf(x), "float32")], { keepdims: 0 }), 1 / c), b.scalar(1));
    const batchPart = b.sub(ortNew, b.scale(oldVar, 1 - this.bnMomentum));
    return b.add(ortNew, b.div(batchPart, nMinus1));
  }

  linear(x: Value, name: string, out: number): Value {
    const fanIn = x.shape[1] as number;
    const w = this.weight(`${name}.weight`, [out, fanIn], linearDefault(fanIn));
    const bias = this.weight(`${name}.bias`, [out], linearDefault(fanIn));
    return this.b.scope(name, () => this.b.gemm(x, w, bias, { transB: true }));
  }

  /** State bindings for every trainable weight given its updated value, plus BN buffers. */
  stateFor(updated: Map<string, Value>): StateBinding[] {
    const weights = this.weights.map((w) => {
      const out = updated.get(w.name);
      if (!out) throw new Error(`optimizer produced no update for '${w.name}'`);
      return { input: w.value, output: out, init: this.params.values.get(w.name)! };
    });
    return [...weights, ...this.bufferUpdates];
  }
}
