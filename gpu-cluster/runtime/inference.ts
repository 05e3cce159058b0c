// Batched inference of a classifier: logits [N, K] of a batch x [N, C, H, W] (the model's first
// input and first output), one ORT session, no state. Every stage that runs a model forward
// (accuracy, relabel, the choice of real starting images) goes through this one API.
import type { InferenceSession } from "onnxruntime-common";
import type { Graph } from "../graph/graph.ts";
import type { TensorData } from "../graph/types.ts";
import { backendOf } from "./default-backend.ts";
import type { OrtBackend } from "./ort-backend.ts";
import { Program, type CompileOptions } from "./program.ts";
import { toOrt } from "./tensors.ts";

export class Classifier {
  private constructor(
    private readonly session: InferenceSession,
    private readonly backend: OrtBackend,
    /** The compiled program when built from our graph (benchmarks inspect it); null for an .onnx file. */
    readonly program: Program | null,
  ) {}

  /** A graph built here (e.g. models/inference-graph.ts). */
  static async fromGraph(graph: Graph, o: CompileOptions = {}): Promise<Classifier & { readonly program: Program }> {
    const program = await Program.compile(graph, [], o);
    return new Classifier(program.session, await backendOf(o), program) as Classifier & { readonly program: Program };
  }

  /** The bytes of an .onnx model (a teacher file), run as they are. */
  static async fromOnnx(model: Uint8Array, o: CompileOptions = {}): Promise<Classifier> {
    const backend = await backendOf(o);
    return new Classifier(await backend.openSession(model, o), backend, null);
  }

  async logits(x: TensorData): Promise<Float32Array> {
    const out = await this.session.run({ [this.session.inputNames[0]]: toOrt(x, this.backend.Tensor) });
    return out[this.session.outputNames[0]].data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
