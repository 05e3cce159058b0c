// The engine benchmark's cases (shared by engine.bench.ts and profile.ts): for one model and
// one kind of step, the compiled program and a closure that runs one step of it.
import { GraphBuilder, tensor } from "../gpu-cluster/graph/builder.ts";
import { ModelBuilder } from "../gpu-cluster/models/layers.ts";
import { buildModel, type ModelSpec } from "../gpu-cluster/models/zoo.ts";
import { sgd } from "../gpu-cluster/autodiff/optimizers.ts";
import { ParamStore } from "../gpu-cluster/models/params.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { inferenceGraph } from "../gpu-cluster/models/inference-graph.ts";
import { ClassifierTrainer, oneHot } from "../gpu-cluster/training/classifier.ts";
import { Program, type CompileOptions } from "../gpu-cluster/runtime/program.ts";
import { RecoverStep } from "../gpu-cluster/stages/recover-step.ts";
import { MAX_SAMPLED_CROP } from "../gpu-cluster/stages/recover.ts";
import { sampledCropMatrixT } from "../shared/crop-schedule/index.ts";

export const CASES: Record<string, { spec: ModelSpec; batch: number; iters: number }> = {
  resnet18: { spec: { arch: "resnet18", classes: 1000, channels: 3, size: 224 }, batch: 32, iters: 3 },
  "convnet-3": { spec: { arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 128 }, batch: 256, iters: 10 },
};
// "forward-train" is the forward of the squeeze graph alone (weights as inputs, BN on batch
// statistics): what the squeeze step's own forward costs, next to the frozen, folded "forward".
// "recover-turned" is the recover step on a turned crop (--recover-rotate): one dense
// (size²) × (size²) sampling matrix per step instead of two separable ones; only where recover
// allows it (size ≤ MAX_SAMPLED_CROP).
export const STEPS = ["forward", "forward-train", "recover", "recover-turned", "squeeze"] as const;
export type Step = (typeof STEPS)[number];

/** Whether `model` has a `step` case (a turned recover crop only up to MAX_SAMPLED_CROP px). */
export const hasCase = (model: string, step: Step): boolean =>
  step !== "recover-turned" || CASES[model].spec.size <= MAX_SAMPLED_CROP;

function input(spec: ModelSpec, n: number) {
  const t = tensor("float32", [n, spec.channels, spec.size, spec.size]);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.37);
  return t;
}

export async function buildCase(
  model: string,
  step: Step,
  opts: CompileOptions = {},
): Promise<{ program: Program; body: () => Promise<unknown> }> {
  const c = CASES[model];
  if (!c) throw new Error(`unknown model '${model}'; choose one of ${Object.keys(CASES).join(", ")}`);
  const { spec, batch } = c;
  const params = new ParamStore(1);
  const x = input(spec, batch);
  const targets = oneHot(
    Array.from({ length: batch }, (_, i) => i % spec.classes),
    spec.classes,
  );
  if (step === "forward") {
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params), opts);
    return { program: clf.program, body: () => clf.logits(x) };
  }
  if (step === "forward-train") {
    const b = new GraphBuilder(`${spec.arch}_forward_train`);
    const m = new ModelBuilder(b, params, "train");
    b.output(buildModel(m, b.input("x", "float32", ["N", spec.channels, spec.size, spec.size]), spec), "logits");
    const program = await Program.compile(b.graph, [], opts);
    const feeds = Object.fromEntries(
      b.graph.inputs.filter((v) => v.name !== "x").map((v) => [v.name, params.values.get(v.name)!]),
    );
    return { program, body: () => program.run({ x, ...feeds }) };
  }
  if (step === "squeeze") {
    const trainer = await ClassifierTrainer.compile(spec, params, {
      ...opts,
      optimizer: sgd({ momentum: 0.9, weightDecay: 5e-4 }),
    });
    return { program: trainer.program, body: () => trainer.step(x, targets, 0.01) };
  }
  if (step !== "recover" && step !== "recover-turned")
    throw new Error(`unknown step '${step}'; choose one of ${STEPS.join(", ")}`);
  const S = spec.size;
  const cfg = {
    batch,
    channels: spec.channels,
    size: S,
    cropSize: S,
    classes: spec.classes,
    rBn: 0.01,
    firstBnMultiplier: 10,
    beta1: 0.5,
    beta2: 0.9,
    lower: Array(spec.channels).fill(-3),
    upper: Array(spec.channels).fill(3),
    sampledCrop: step === "recover-turned",
  };
  const rs = await RecoverStep.compile({ kind: "zoo", spec, params }, cfg, x, opts);
  if (cfg.sampledCrop) {
    // a crop of 3/4 of the side turned by 20°: a dense matrix whatever the box
    const box = { x: 3, y: 4, w: (3 * S) >> 2, h: (3 * S) >> 2, flip: false, angle: 20 };
    const matrixT = sampledCropMatrixT(S, S, box, S, S);
    return { program: rs.program, body: () => rs.stepSampled(matrixT, targets, 0.1, cfg) };
  }
  const eye = new Float32Array(S * S);
  for (let i = 0; i < S; i++) eye[i * S + i] = 1;
  return { program: rs.program, body: () => rs.step(eye, eye, targets, 0.1, cfg) };
}
