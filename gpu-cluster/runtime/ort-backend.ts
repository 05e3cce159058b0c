// What the runtime needs of an ONNX Runtime package: its Tensor class and a way to open a
// session. Typed with onnxruntime-common, the API that onnxruntime-node and onnxruntime-web both
// implement, so Program and Classifier run on either; node-backend.ts is the Node one, the
// default (default-backend.ts).
import type { InferenceSession, TensorConstructor } from "onnxruntime-common";
import type { ExecutionProvider } from "./execution-provider.ts";

export interface SessionOptions {
  ep?: ExecutionProvider;
  threads?: number;
  /** Write ORT's per-node profile (Chrome-trace JSON) to a file starting with this prefix. */
  profilePrefix?: string;
  /** Outputs ORT keeps in GPU memory (WebGPU: `gpu-buffer`) instead of copying them to the host. */
  deviceOutputs?: readonly string[];
}

/** ORT's session option that keeps `deviceOutputs` in GPU memory: on the WebGPU EP only (empty elsewhere). */
export function deviceOutputLocations(ep: string | undefined, deviceOutputs: readonly string[] = []) {
  return ep === "webgpu" && deviceOutputs.length
    ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((n) => [n, "gpu-buffer" as const])) }
    : {};
}

export interface OrtBackend {
  /** The package's own Tensor class: each package loads its own copy of onnxruntime-common, and sessions check feeds with instanceof. */
  Tensor: TensorConstructor;
  openSession(model: Uint8Array, o: SessionOptions): Promise<InferenceSession>;
}
