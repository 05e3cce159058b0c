// A compiled step: one ONNX model run by one ORT session, with state (weights, optimiser
// moments, BN running statistics, synthetic images) threaded from each run's outputs to the
// next run's inputs. The state tensors returned by ORT become the next feeds as they are:
// nothing is copied on the host between steps.
import * as ort from "onnxruntime-node";
import type { Graph } from "../graph/graph.ts";
import type { TensorData } from "../graph/types.ts";
import type { StateBinding } from "../graph/state-binding.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { createSession, type ExecutionProvider } from "./execution-provider.ts";
import { fromOrt, toOrt } from "./tensors.ts";

export interface CompileOptions {
  ep?: ExecutionProvider;
  threads?: number;
  /** Write ORT's per-node profile (Chrome-trace JSON) to a file starting with this prefix. */
  profilePrefix?: string;
}

export class Program {
  private readonly state = new Map<string, ort.Tensor>();

  private constructor(
    readonly session: ort.InferenceSession,
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
    const model = serializeModel(graph);
    const session = await createSession(model, opts.ep ?? "cpu", opts.threads, opts.profilePrefix);
    const stateOutputs = new Set(state.map((s) => s.output.name));
    const program = new Program(
      session, graph, model,
      state.map((s) => ({ input: s.input.name, output: s.output.name })),
      graph.outputs.map((o) => o.name).filter((n) => !stateOutputs.has(n)),
    );
    for (const s of state) program.state.set(s.input.name, toOrt(s.init));
    return program;
  }

  /** Runs one step with the given per-step feeds; returns the non-state outputs. */
  async run(feeds: Record<string, TensorData | ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const all: Record<string, ort.Tensor> = {};
    for (const [k, v] of this.state) all[k] = v;
    for (const [k, v] of Object.entries(feeds)) all[k] = "dims" in v ? v : toOrt(v);
    const out = await this.session.run(all);
    for (const b of this.bindings) this.state.set(b.input, out[b.output] as ort.Tensor);
    const result: Record<string, ort.Tensor> = {};
    for (const n of this.fetchNames) result[n] = out[n] as ort.Tensor;
    return result;
  }

  getState(name: string): TensorData {
    const t = this.state.get(name);
    if (!t) throw new Error(`no state named '${name}'`);
    return fromOrt(t);
  }

  setState(name: string, value: TensorData): void {
    if (!this.state.has(name)) throw new Error(`no state named '${name}'`);
    this.state.set(name, toOrt(value));
  }

  stateNames(): string[] {
    return [...this.state.keys()];
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
