// `distill cluster submit`: submit a cluster plan (shared/cluster-plan.ts) to Slurm from the
// cluster's login node and, with --wait, follow it to the end (retrying failed shards).
// `distill cluster dispatch` (dispatch.ts) does the same for launches it picks up from the edge.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseClusterPlan } from "../../../shared/cluster-plan.ts";
import { SlurmLauncher, type LaunchStatus } from "./slurm.ts";
import { addDispatchCommand } from "./dispatch.ts";

export function renderStatus(s: LaunchStatus): string {
  const rows = s.shards.map(
    (x) =>
      `  ${x.stage.padEnd(8)} ${String(x.index).padStart(4)}  ${x.state.padEnd(9)} job ${x.jobId || "-"}  attempts ${x.attempts}`,
  );
  return [`run ${s.run}: ${s.state}${s.message ? ` (${s.message})` : ""}`, ...rows, ""].join("\n");
}

export function addClusterCommands(program: Command): void {
  const cluster = program.command("cluster").description("cluster runs on Slurm (docs/cluster.md)");
  cluster
    .command("submit")
    .description("submit a plan's job arrays to Slurm (afterok chain); --wait follows them and retries failed shards")
    .requiredOption("--plan <file.json>", "the cluster plan (run, ipc, options, shards, resources)")
    .requiredOption("--run-dir <dir>", "the run folder on the cluster's shared file system")
    .option("--wait", "poll until the run completes or fails", false)
    .option("--poll <seconds>", "seconds between polls", "2")
    .action(async (o: { plan: string; runDir: string; wait: boolean; poll: string }) => {
      const plan = parseClusterPlan(JSON.parse(readFileSync(o.plan, "utf8")));
      const launcher = new SlurmLauncher(
        plan,
        { repo: process.cwd(), runDir: resolve(o.runDir), node: process.execPath },
        { log: (l) => process.stderr.write(`${l}\n`) },
      );
      let s = launcher.tick();
      while (o.wait && s.state === "running") {
        await new Promise((r) => setTimeout(r, Number(o.poll) * 1000));
        s = launcher.tick();
      }
      process.stdout.write(renderStatus(s));
      if (s.state === "failed") process.exitCode = 1;
    });
  addDispatchCommand(cluster);
}
