// Which execution provider ran each node, read from ORT's profile (Chrome-trace JSON: one
// "<node>_kernel_time" event per node run, with its provider, op type and tensor types). ORT puts
// shape arithmetic (int64 Shape/Gather/ReduceProd/Cast on shape tensors) on the CPU EP on purpose:
// those are counted apart from real fallbacks, nodes computing on float tensors.
import { readFileSync } from "node:fs";

export interface Placement {
  /** Nodes per provider ("WebGpuExecutionProvider": 120, "CPUExecutionProvider": 9). */
  byProvider: Record<string, number>;
  /** CPU nodes on int64 shape tensors only (by op type). */
  cpuShapeOps: Record<string, number>;
  /** CPU nodes computing on float tensors (by op type): the fallbacks that cost transfers. */
  cpuFallbacks: Record<string, number>;
}

interface TraceEvent {
  cat?: string;
  name: string;
  args?: { provider?: string; op_name?: string; input_type_shape?: Record<string, unknown>[] };
}

const isShapeArithmetic = (e: TraceEvent) =>
  (e.args?.input_type_shape ?? []).every((t) => Object.keys(t).every((dtype) => dtype === "int64"));

/** Placement of the nodes of the first profiled run in `traceFile`. */
export function placementFromProfile(traceFile: string): Placement {
  const events = JSON.parse(readFileSync(traceFile, "utf8")) as TraceEvent[];
  const p: Placement = { byProvider: {}, cpuShapeOps: {}, cpuFallbacks: {} };
  const seen = new Set<string>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || !e.args?.provider) continue;
    if (seen.has(e.name)) continue; // later runs repeat the same nodes
    seen.add(e.name);
    const { provider, op_name: op = "?" } = e.args;
    p.byProvider[provider] = (p.byProvider[provider] ?? 0) + 1;
    if (provider !== "CPUExecutionProvider") continue;
    const bucket = isShapeArithmetic(e) ? p.cpuShapeOps : p.cpuFallbacks;
    bucket[op] = (bucket[op] ?? 0) + 1;
  }
  return p;
}

const list = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

/** One line: "WebGPU 412, CPU 9 (shape arithmetic: Gather 6, Cast 3; fallbacks: none)". */
export function describePlacement(p: Placement): string {
  const providers = Object.entries(p.byProvider)
    .map(([k, v]) => `${k.replace("ExecutionProvider", "")} ${v}`)
    .join(", ");
  return `${providers} (CPU shape arithmetic: ${list(p.cpuShapeOps)}; CPU fallbacks: ${list(p.cpuFallbacks)})`;
}
