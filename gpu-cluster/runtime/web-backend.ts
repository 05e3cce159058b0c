// ONNX Runtime Web (browsers): the wasm EP (WebAssembly, threads where the page is
// cross-origin isolated) and the WebGPU EP. The one file that imports onnxruntime-web; the
// browser trainer hands this backend to Program, so the page runs the engine's own step code.
/// <reference types="@webgpu/types" />
import * as ort from "onnxruntime-web/webgpu";
import { deviceOutputLocations, type OrtBackend } from "./ort-backend.ts";

export type WebExecutionProvider = "wasm" | "webgpu";

export interface WebBackendOptions {
  ep: WebExecutionProvider;
  /** Where ORT's .wasm/.mjs files are served (a URL prefix ending in '/'). */
  wasmPaths: string;
  /** wasm threads (1 unless the page is crossOriginIsolated). */
  threads?: number;
}

/** Why WebGPU cannot run here, or null when the browser gives an adapter. */
export async function webGpuProblem(): Promise<string | null> {
  const gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return "this browser has no WebGPU (navigator.gpu is missing)";
  const adapter = await gpu.requestAdapter();
  if (!adapter) return "navigator.gpu.requestAdapter() returned no adapter";
  return null;
}

/** The adapter's description ("swiftshader", a vendor and architecture), for the page and the tests. */
export async function webGpuAdapterInfo(): Promise<string | null> {
  const adapter = await (globalThis.navigator as Navigator | undefined)?.gpu?.requestAdapter();
  if (!adapter) return null;
  const i = adapter.info;
  return [i.vendor, i.architecture, i.description].filter(Boolean).join(" ") || "unknown adapter";
}

export function webBackend(o: WebBackendOptions): OrtBackend {
  ort.env.wasm.wasmPaths = o.wasmPaths;
  ort.env.wasm.numThreads = o.threads ?? 1;
  ort.env.logLevel = "error";
  return {
    Tensor: ort.Tensor,
    openSession: (model, s) =>
      ort.InferenceSession.create(model, {
        executionProviders: [o.ep],
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
        // Program's state stays on the GPU between steps, as on onnxruntime-node's WebGPU EP.
        ...deviceOutputLocations(o.ep, s.deviceOutputs),
      }),
  };
}

export const ortWebVersion = (): string => ort.env.versions.web ?? "unknown";
