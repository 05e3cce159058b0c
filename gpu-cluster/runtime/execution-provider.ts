// Execution providers: which ORT backend runs the graphs. CPU is the default and always
// present; WebGPU is bundled but needs a GPU driver; CUDA needs libraries that a default
// install (with .npmrc's onnxruntime-node-install=skip) does not download. The names and their
// errors only: whether one is available is the ORT package's to say (node-backend.ts).

export const EXECUTION_PROVIDERS = ["cpu", "webgpu", "cuda"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export class ExecutionProviderError extends Error {
  constructor(
    readonly ep: string,
    message: string,
  ) {
    super(message);
    this.name = "ExecutionProviderError";
  }
}

export function parseExecutionProvider(name: string): ExecutionProvider {
  if ((EXECUTION_PROVIDERS as readonly string[]).includes(name)) return name as ExecutionProvider;
  throw new ExecutionProviderError(
    name,
    `unknown execution provider '${name}': choose one of ${EXECUTION_PROVIDERS.join(", ")}`,
  );
}
