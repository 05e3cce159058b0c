// A compiled step: one ONNX model run by one ORT session, with state (weights, optimiser
// moments, BN running statistics, synthetic images) threaded from each run's outputs to the
// next run's inputs. The state tensors returned by ORT become the next feeds as they are:
// nothing is copied on the host between steps. On the WebGPU EP the state stays in GPU memory
// (gpu-buffer outputs fed back as inputs): a step moves only its batch and its fetches across
// the bus, and reading a state value (getState) copies that one tensor down. Written against
// onnxruntime-common; the ORT package comes from CompileOptions.backend (default
// onnxruntime-node, ort-backend.ts).
import type { InferenceSession, Tensor } from "onnxruntime-common";
import type { Graph } from "../graph/graph.ts";
import { GraphBuilder } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
import type { StateBinding } from "../graph/state-binding.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { lowerForWebGpu } from "../graph/webgpu-lowering.ts";
import { backendOf } from "./default-backend.ts";
import type { OrtBackend, SessionOptions } from "./ort-backend.ts";
import { dtypeOf, fromOrt, toOrt } from "./tensors.ts";

export interface CompileOptions extends SessionOptions {
  /** The ORT package to run on (onnxruntime-web's, say); onnxruntime-node when absent. */
  backend?: OrtBackend;
  /** WebGPU EP: keep the state in GPU memory between runs (default true; false: on the host, as on the CPU EP). */
  stateOnDevice?: boolean;
}

const onHost = (t: Tensor) => t.location === "cpu" || t.location === "cpu-pinned";

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
    private readonly opts: CompileOptions,
  ) {}

  /** Identity sessions that copy device state to the host, one per list of shapes read together (ORT's getData() on a gpu-buffer tensor aborts onnxruntime-node 1.30). */
  private readonly downloaders = new Map<string, Promise<InferenceSession>>();

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
    const stateOutputs = new Set(state.map((s) => s.output.name));
    const onDevice = opts.ep === "webgpu" && opts.stateOnDevice !== false;
    const session = await backend.openSession(model, { ...opts, deviceOutputs: onDevice ? [...stateOutputs] : [] });
    const program = new Program(
      session,
      backend,
      graph,
      model,
      state.map((s) => ({ input: s.input.name, output: s.output.name })),
      graph.outputs.map((o) => o.name).filter((n) => !stateOutputs.has(n)),
      opts,
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
    for (const b of this.bindings) this.replaceState(b.input, out[b.output] as Tensor);
    const result: Record<string, Tensor> = {};
    for (const n of this.fetchNames) result[n] = out[n] as Tensor;
    return result;
  }

  /** A state value on the host (copied down from the GPU where it lives there). */
  async getState(name: string): Promise<TensorData> {
    return (await this.getStates([name]))[0];
  }

  /** Several state values on the host; those on the GPU come down in one session run. */
  async getStates(names: readonly string[]): Promise<TensorData[]> {
    const tensors = names.map((n) => {
      const t = this.state.get(n);
      if (!t) throw new Error(`no state named '${n}'`);
      return t;
    });
    const out = tensors.map((t) => (onHost(t) ? fromOrt(t) : null));
    const onDevice = tensors.flatMap((t, i) => (onHost(t) ? [] : [{ i, t }]));
    if (!onDevice.length) return out as TensorData[];
    const key = onDevice.map(({ t }) => `${t.type}[${t.dims.join(",")}]`).join(" ");
    let downloader = this.downloaders.get(key);
    if (!downloader) {
      const b = new GraphBuilder("download");
      onDevice.forEach(({ t }, j) =>
        b.output(b.op("Identity", [b.input(`x${j}`, dtypeOf(t), [...t.dims])])[0], `y${j}`),
      );
      downloader = this.backend.openSession(serializeModel(b.graph), { ep: this.opts.ep, threads: this.opts.threads });
      this.downloaders.set(key, downloader);
    }
    const r = await (await downloader).run(Object.fromEntries(onDevice.map(({ t }, j) => [`x${j}`, t])));
    onDevice.forEach(({ i }, j) => (out[i] = fromOrt(r[`y${j}`] as Tensor)));
    return out as TensorData[];
  }

  /** Replaces a state value with a copy of `value` (as compile does with the init values). */
  setState(name: string, value: TensorData): void {
    if (!this.state.has(name)) throw new Error(`no state named '${name}'`);
    this.replaceState(name, toOrt(ownCopy(value), this.backend.Tensor));
  }

  /** Device tensors are freed when replaced (ORT hands their ownership to the caller). */
  private replaceState(name: string, t: Tensor): void {
    const old = this.state.get(name);
    this.state.set(name, t);
    if (old && old !== t && !onHost(old)) old.dispose();
  }

  /** Where a state value lives: "cpu", or "gpu-buffer" (WebGPU, state on the device). */
  stateLocation(name: string): string {
    const t = this.state.get(name);
    if (!t) throw new Error(`no state named '${name}'`);
    return t.location;
  }

  stateNames(): string[] {
    return [...this.state.keys()];
  }

  async release(): Promise<void> {
    for (const t of this.state.values()) if (!onHost(t)) t.dispose();
    for (const d of this.downloaders.values()) await (await d).release();
    await this.session.release();
  }
}
