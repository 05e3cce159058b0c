// A zoo model in its frozen form: weights as initializers, BN in inference mode, logits = f(x).
// Evaluation runs it; squeeze saves it (with a doc string) as the teacher's .onnx file.
import { GraphBuilder } from "../graph/builder.ts";
import type { Graph } from "../graph/graph.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { ModelBuilder } from "./layers.ts";
import type { ParamStore } from "./params.ts";
import { buildModel, type ModelSpec } from "./zoo.ts";

/** The model with frozen weights and BN in inference mode: logits = f(x). */
export function inferenceGraph(spec: ModelSpec, params: ParamStore, inputName = "input", outputName = "logits"): Graph {
  const b = new GraphBuilder(spec.arch);
  const x = b.input(inputName, "float32", ["N", spec.channels, spec.size, spec.size]);
  const m = new ModelBuilder(b, params, "frozen");
  b.output(buildModel(m, x, spec), outputName);
  return b.graph;
}

/** The .onnx bytes of the frozen model. */
export function exportOnnx(spec: ModelSpec, params: ParamStore): Uint8Array {
  return serializeModel(inferenceGraph(spec, params), { docString: JSON.stringify(spec) });
}
