// The frozen teacher as a piece of a larger graph: recover appends its losses to the teacher's
// logits and to the inputs of its BatchNorm layers. A teacher comes either from the model zoo
// (weights in a ParamStore: squeeze's own result, tests) or from an .onnx file (imported into
// the same IR; how ImageNet teachers such as torchvision's ResNet-18 arrive).
import type { GraphBuilder } from "../graph/builder.ts";
import type { Value } from "../graph/types.ts";
import { importOnnx } from "../graph/onnx-import.ts";
import { ModelBuilder, type BatchNormRecord } from "../models/layers.ts";
import type { ParamStore } from "../models/params.ts";
import { buildModel, type ModelSpec } from "../models/zoo.ts";

export interface FrozenTeacher {
  logits: Value;
  /** Every BatchNorm layer in graph order: its input and running statistics. */
  batchNorms: BatchNormRecord[];
}

export type TeacherSource =
  { kind: "zoo"; spec: ModelSpec; params: ParamStore } | { kind: "onnx"; bytes: Uint8Array; file: string };

/** The export call that keeps a PyTorch model's BatchNorm layers (docs/pytorch.md). */
export const PRESERVE_EXPORT =
  'torch.onnx.export(model.eval(), x, "teacher.onnx", training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, ' +
  'opset_version=17, input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})';

/** Why a teacher without BatchNormalization is refused, and how to export one that keeps them. */
export function noBatchNormMessage(file: string): string {
  return (
    `${file}: the teacher has no BatchNormalization layer; recover matches BN statistics and needs at least one. ` +
    "If the model has BatchNorm and was exported from PyTorch with a plain torch.onnx.export(model.eval(), ...), the exporter " +
    "folded every BatchNorm into the convolution before it (eval mode with constant folding). Export it with BatchNorm kept:\n  " +
    `${PRESERVE_EXPORT}\n(see docs/pytorch.md)`
  );
}

/**
 * Builds the teacher (or, under another `scope`, any frozen classifier such as recover's
 * competing student) on input `x` (normalised NCHW batch) with weights frozen, BN in inference mode.
 */
export function frozenTeacher(b: GraphBuilder, x: Value, src: TeacherSource, scope = "teacher"): FrozenTeacher {
  if (src.kind === "zoo") {
    const m = new ModelBuilder(b, src.params, "frozen");
    const logits = b.scope(scope, () => buildModel(m, x, src.spec));
    return { logits, batchNorms: m.batchNorms };
  }
  const imported = importOnnx(b, src.bytes, { inputs: [x], scope, file: src.file });
  if (imported.outputs.length < 1) throw new Error(`${src.file}: the model has no output to use as logits`);
  return { logits: imported.outputs[0], batchNorms: imported.batchNorms };
}
