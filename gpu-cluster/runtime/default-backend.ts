// Which ORT package runs a program when the caller names none: onnxruntime-node, imported only
// then, so a build that brings its own backend (onnxruntime-web) never loads the native one.
import type { OrtBackend } from "./ort-backend.ts";

export async function backendOf(o: { backend?: OrtBackend }): Promise<OrtBackend> {
  return o.backend ?? (await import("./node-backend.ts")).nodeBackend;
}
