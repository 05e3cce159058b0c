// ONNX Runtime for Node (native; CPU, WebGPU, CUDA): the one file that imports onnxruntime-node.
import * as ort from "onnxruntime-node";
import { ExecutionProviderError, type ExecutionProvider } from "./execution-provider.ts";
import { deviceOutputLocations, type OrtBackend, type SessionOptions } from "./ort-backend.ts";
import { chooseWebGpuDriver, NoWebGpuDriverError } from "./webgpu-driver.ts";

export function checkAvailable(ep: ExecutionProvider): void {
  const backend = ort.listSupportedBackends().find((b) => b.name === ep);
  if (!backend) {
    throw new ExecutionProviderError(
      ep,
      `execution provider '${ep}' is not supported by this onnxruntime-node build on ${process.platform}/${process.arch}; use --ep cpu`,
    );
  }
}

export function sessionOptions(
  ep: ExecutionProvider,
  threads?: number,
  profilePrefix?: string,
  deviceOutputs: readonly string[] = [],
): ort.InferenceSession.SessionOptions {
  return {
    // State that stays on the GPU between runs (Program): no host round trip per step.
    ...deviceOutputLocations(ep, deviceOutputs),
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

async function openSession(model: Uint8Array, o: SessionOptions): Promise<ort.InferenceSession> {
  const ep = o.ep ?? "cpu";
  checkAvailable(ep);
  if (ep === "webgpu") {
    try {
      chooseWebGpuDriver();
    } catch (e) {
      if (e instanceof NoWebGpuDriverError) throw new ExecutionProviderError(ep, e.message);
      throw e;
    }
  }
  try {
    return await ort.InferenceSession.create(model, sessionOptions(ep, o.threads, o.profilePrefix, o.deviceOutputs));
  } catch (e) {
    const msg = (e as Error).message;
    if (ep !== "cpu" && /provider|cuda|webgpu|dawn|vulkan|adapter|lib\w+\.so/i.test(msg)) {
      const hint =
        ep === "cuda"
          ? "the CUDA provider libraries (libonnxruntime_providers_cuda.so and CUDA/cuDNN) must be installed beside onnxruntime-node's libonnxruntime; see README 'GPU'"
          : "WebGPU needs a GPU with a Vulkan driver (Dawn); none was usable (NVIDIA's driver also needs the Vulkan loader, libvulkan1, and libglvnd's libGLX/libEGL: docs/gpu.md)";
      throw new ExecutionProviderError(
        ep,
        `execution provider '${ep}' is unavailable: ${hint}. Use --ep cpu. (ORT said: ${msg.split("\n")[0]})`,
      );
    }
    throw e;
  }
}

export const nodeBackend: OrtBackend = { Tensor: ort.Tensor, openSession };
