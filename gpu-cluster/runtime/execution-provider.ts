// Execution providers: which ORT backend runs the graphs. CPU is the default and always
// present; WebGPU is bundled but needs a GPU driver; CUDA needs libraries that a default
// install (with .npmrc's onnxruntime-node-install=skip) does not download.
import * as ort from "onnxruntime-node";

export const EXECUTION_PROVIDERS = ["cpu", "webgpu", "cuda"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export class ExecutionProviderError extends Error {
  constructor(readonly ep: string, message: string) {
    super(message);
    this.name = "ExecutionProviderError";
  }
}

export function parseExecutionProvider(name: string): ExecutionProvider {
  if ((EXECUTION_PROVIDERS as readonly string[]).includes(name)) return name as ExecutionProvider;
  throw new ExecutionProviderError(name, `unknown execution provider '${name}': choose one of ${EXECUTION_PROVIDERS.join(", ")}`);
}

export function checkAvailable(ep: ExecutionProvider): void {
  const backend = ort.listSupportedBackends().find((b) => b.name === ep);
  if (!backend) {
    throw new ExecutionProviderError(ep, `execution provider '${ep}' is not supported by this onnxruntime-node build on ${process.platform}/${process.arch}; use --ep cpu`);
  }
}

export function sessionOptions(ep: ExecutionProvider, threads?: number, profilePrefix?: string): ort.InferenceSession.SessionOptions {
  return {
    // ORT's per-node timings (a Chrome-trace JSON written when the session ends profiling).
    ...(profilePrefix ? { enableProfiling: true, profileFilePrefix: profilePrefix } : {}),
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: threads ?? 0,
    logSeverityLevel: 3,
    enableCpuMemArena: true,
  };
}

export async function createSession(model: Uint8Array, ep: ExecutionProvider = "cpu", threads?: number, profilePrefix?: string): Promise<ort.InferenceSession> {
  checkAvailable(ep);
  try {
    return await ort.InferenceSession.create(model, sessionOptions(ep, threads, profilePrefix));
  } catch (e) {
    const msg = (e as Error).message;
    if (ep !== "cpu" && /provider|cuda|webgpu|dawn|vulkan|adapter|lib\w+\.so/i.test(msg)) {
      const hint = ep === "cuda"
        ? "the CUDA provider libraries (libonnxruntime_providers_cuda.so and CUDA/cuDNN) must be installed beside onnxruntime-node's libonnxruntime; see README 'GPU'"
        : "WebGPU needs a GPU with a Vulkan driver (Dawn); none was usable";
      throw new ExecutionProviderError(ep, `execution provider '${ep}' is unavailable: ${hint}. Use --ep cpu. (ORT said: ${msg.split("\n")[0]})`);
    }
    throw e;
  }
}
