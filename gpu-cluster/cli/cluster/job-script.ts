// The batch script of one stage of a cluster run: the `distill` command of the stage (its array
// index comes from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), run again when the process dies
// (a SIGKILL, an OOM kill) up to `attempts` times — shards are idempotent, so a rerun finishes
// the work or skips it — and what the execution provider needs on a GPU node (docs/gpu.md).
import type { ClusterPlan, Stage } from "../../../shared/cluster-plan.ts";

export interface ScriptContext {
  /** The project checkout on the cluster's shared file system. */
  repo: string;
  /** The run folder on the shared file system. */
  runDir: string;
  /** Node.js on the nodes. */
  node: string;
  /** Edge to stream results to (uploads need DISTILL_EDGE_TOKEN_FILE, a worker token, in the job's environment). */
  edge?: string;
  attempts?: number;
}

/** Single-quoted for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `distill` argument lists the stage runs, in order. */
export function stageCommands(p: ClusterPlan, stage: Stage, ctx: ScriptContext): string[][] {
  const run = [
    ...p.options,
    ...["--ipc", String(p.ipc), "--out", ctx.runDir, "--run-id", p.run, "--ep", p.ep, "--quiet"],
  ];
  const shards = ["--recover-shards", String(p.recoverShards), "--relabel-shards", String(p.relabelShards)];
  const edge = ctx.edge ? ["--edge", ctx.edge] : [];
  switch (stage) {
    case "squeeze":
      return [["squeeze", ...run], ...(ctx.edge ? [["shard", "manifest", ...run, ...shards, ...edge]] : [])];
    case "recover":
      return [["shard", "recover", ...run, ...shards, ...edge]];
    case "gate":
      return [["shard", "gate", ...run, ...shards]];
    case "relabel":
      return [["shard", "relabel", ...run, ...shards, ...edge]];
    case "merge":
      return [["shard", "merge", ...run, ...shards], ...(p.evaluate ? [["evaluate", ...run]] : [])];
  }
}

const EP_SETUP: Record<ClusterPlan["ep"], string[]> = {
  cpu: [],
  // CUDA provider libraries beside ORT's, CUDA/cuDNN of the node on the library path (docs/gpu.md)
  cuda: [
    'if [ -n "${DISTILL_CUDA_LIBS:-}" ]; then export LD_LIBRARY_PATH="$DISTILL_CUDA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi',
  ],
  // Dawn needs a Vulkan driver: the node's (NVIDIA ICD), or DISTILL_VULKAN_ICD when set
  webgpu: ['if [ -n "${DISTILL_VULKAN_ICD:-}" ]; then export VK_ICD_FILENAMES="$DISTILL_VULKAN_ICD"; fi'],
};

/** One process per command (node --import tsx, not the tsx launcher, which would leave its child behind when killed). */
export function jobScript(p: ClusterPlan, stage: Stage, ctx: ScriptContext): string {
  const distill = `${ctx.repo}/gpu-cluster/cli/distill.ts`;
  const attempts = ctx.attempts ?? 3;
  const lines = [
    "#!/bin/bash",
    `# distill cluster run ${p.run}: stage ${stage} (written by distill cluster dispatch)`,
    "set -u",
    `cd ${shellQuote(ctx.repo)}`,
    ...EP_SETUP[p.ep],
    "run() {",
    ...stageCommands(p, stage, ctx).map(
      (args) => `  ${[ctx.node, "--import", "tsx", distill, ...args].map(shellQuote).join(" ")} || return $?`,
    ),
    "}",
    `for attempt in $(seq 1 ${attempts}); do`,
    "  run && exit 0",
    '  echo "distill: stage ' + stage + " attempt $attempt of " + attempts + ' failed (exit $?)" >&2',
    "done",
    "exit 1",
    "",
  ];
  return lines.join("\n");
}
