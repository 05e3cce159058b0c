// A compiled step: one ONNX model run by one ORT session, with state (weights, optimiser
// moments, BN running statistics, synthetic images) threaded from each run's outputs to the
// next run's inputs. The state tensors returned by ORT become the next feeds as they are:
// nothing is copied on the host between steps. Written against onnxruntime-common; the ORT
// package comes from CompileOptions.backend (default onnxruntime-node, ort-backend.ts).
import type { InferenceSession, Tensor } from "onnxruntime-common";
import type { Graph } from "../graph/graph.ts";
import type { TensorData } from "../graph/types.ts";
import type { StateBinding } from "../graph/state-binding.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { lowerForWebGpu } from "../graph/webgpu-lowering.ts";
import { backendOf } from "./default-backend.ts";
import type { OrtBackend, SessionOptions } from "./ort-backend.ts";
import { fromOrt, toOrt } from "./tensors.ts";

export interface CompileOptions extends SessionOptions {
  /** The ORT package to run on (onnxruntime-web's, say); onnxruntime-node when absent. */
  backend?: OrtBackend;
}

/**
 * A state value the program owns. ORT may write into a fed buffer (training-mode
 * BatchNormalization stores its running statistics into its mean/var inputs when those outputs
 * are not requested, ORT 1.30 CPU), so the caller's init arrays are copied, never fed.
 */
const ownCopy = (t: TensorData): TensorData => ({ dtype: t.dtype, shape: [...t.shape], data: t.data.slice() });

export class Program {
  private readonly state = new Map<string, Tensor>();

  private constructor(
    readonly session: InferenceSession,
    private readonly backend: OrtBackend,
    /** The compiled graph (for inspection: FLOP counts, node lists) and its serialised model. */
    readonly graph: Graph,
    readonly model: Uint8Array,
    private readonly bindings: readonly { input: string; output: string }[],
    /** Names of the non-state outputs returned by `run`. */
    readonly fetchNames: readonly string[],
  ) {}

  /** Serialises `graph` (whose outputs must include every binding's output) and opens a session. */
  static async compile(graph: Graph, state: readonly StateBinding[], opts: CompileOptions = {}): Promise<Program> {
    for (const s of state) {
      if (!graph.outputs.includes(s.output)) graph.outputs.push(s.output);
      if (!graph.inputs.includes(s.input)) throw new Error(`state input '${s.input.name}' is not a graph input`);
    }
    // Ops WebGPU lacks (training-mode BatchNormalization, LogSoftmax) as ops it has.
    if (opts.ep === "webgpu") lowerForWebGpu(graph);
    const model = serializeModel(graph);
    const backend = await backendOf(opts);
    const session = await backend.openSession(model, opts);
    const stateOutputs = new Set(state.map((s) => s.output.name));
    const program = new Program(
      session,
      backend,
      graph,
      model,
      state.map((s) => ({ input: s.input.name, output: s.output.name })),
      graph.outputs.map((o) => o.name).filter((n) => !stateOutputs.has(n)),
    );
    for (const s of state) program.state.set(s.input.name, toOrt(ownCopy(s.init), backend.Tensor));
    return program;
  }

  /** Runs one step with the given per-step feeds (fed as they are, not copied); returns the non-state outputs. */
  async run(feeds: Record<string, TensorData | Tensor>): Promise<Record<string, Tensor>> {
    const all: Record<string, Tensor> = {};
    for (const [k, v] of this.state) all[k] = v;
    for (const [k, v] of Object.entries(feeds)) all[k] = "dims" in v ? v : toOrt(v, this.backend.Tensor);
    const out = await this.session.run(all);
    for (const b of this.bindings) this.state.set(b.input, out[b.output] as Tensor);
    const result: Record<string, Tensor> = {};
    for (const n of this.fetchNames) result[n] = out[n] as Tensor;
    return result;
  }

  getState(name: string): TensorData {
    const t = this.state.get(name);
    if (!t) throw new Error(`no state named '${name}'`);
    return fromOrt(t);
  }

  /** Replaces a state value with a copy of `value` (as compile does with the init values). */
  setState(name: string, value: TensorData): void {
    if (!this.state.has(name)) throw new Error(`no state named '${name}'`);
    this.state.set(name, toOrt(ownCopy(value), this.backend.Tensor));
  }

  stateNames(): string[] {
    return [...this.state.keys()];
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
