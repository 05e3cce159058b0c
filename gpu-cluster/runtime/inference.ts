// Batched inference of a classifier: logits [N, K] of a batch x [N, C, H, W] (the model's first
// input and first output), one ORT session, no state. Every stage that runs a model forward
// (accuracy, relabel, the choice of real starting images) goes through this one API.
import type * as ort from "onnxruntime-node";
import type { Graph } from "../graph/graph.ts";
import type { TensorData } from "../graph/types.ts";
import { createSession } from "./execution-provider.ts";
import { Program, type CompileOptions } from "./program.ts";
import { toOrt } from "./tensors.ts";

export class Classifier {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** The compiled program when built from our graph (benchmarks inspect it); null for an .onnx file. */
    readonly program: Program | null,
  ) {}

  /** A graph built here (e.g. models/inference-graph.ts). */
  static async fromGraph(graph: Graph, o: CompileOptions = {}): Promise<Classifier & { readonly program: Program }> {
    const program = await Program.compile(graph, [], o);
    return new Classifier(program.session, program) as Classifier & { readonly program: Program };
  }

  /** The bytes of an .onnx model (a teacher file), run as they are. */
  static async fromOnnx(model: Uint8Array, o: CompileOptions = {}): Promise<Classifier> {
    return new Classifier(await createSession(model, o.ep ?? "cpu", o.threads, o.profilePrefix), null);
  }

  async logits(x: TensorData): Promise<Float32Array> {
    const out = await this.session.run({ [this.session.inputNames[0]]: toOrt(x) });
    return out[this.session.outputNames[0]].data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
