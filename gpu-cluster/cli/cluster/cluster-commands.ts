// `distill cluster submit`: submit a cluster plan (shared/cluster-plan.ts) to Slurm from the
// cluster's login node and, with --wait, follow it to the end (retrying failed shards).
// `distill cluster dispatch` (dispatch.ts) does the same for launches it picks up from the edge.
import { readJsonExplained } from "../../io/read-file.ts";
import { join, resolve } from "node:path";
import { writeJsonAtomic } from "../../io/atomic-write.ts";
import type { Command } from "commander";
import { parseClusterPlan, stageWidth, type ClusterPlan } from "../../../shared/cluster-plan.ts";
import { SlurmLauncher, type LaunchStatus } from "./slurm.ts";
import { addDispatchCommand } from "./dispatch.ts";
import { EdgeApi, readTokenFile } from "./edge-api.ts";
import { edgeUrl } from "../edge-url.ts";
import { kubectlCommands, kubernetesJobs } from "./kubernetes.ts";

/** --plan FILE.json: read, parsed and validated, each failure naming the file and the fix. */
export function readPlanFile(file: string): ClusterPlan {
  return parseClusterPlan(readJsonExplained(file, "--plan", "give a cluster plan's .json file (docs/cluster.md)"));
}

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
      const plan = readPlanFile(o.plan);
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
  cluster
    .command("kubernetes")
    .description("write the plan's Kubernetes Jobs (Indexed Jobs for the shards) and print the kubectl commands")
    .requiredOption("--plan <file.json>", "the cluster plan")
    .requiredOption("--image <image>", "container image with Node.js ≥ 20")
    .requiredOption("--claim <pvc>", "PersistentVolumeClaim mounted at /data: the checkout and the run folders")
    .option("--repo <dir>", "the project checkout on the volume", "/data/distill")
    .option("--run-dir <dir>", "the run folder on the volume (default /data/runs/<run>)")
    .option("--namespace <ns>", "namespace of the Jobs")
    .option("--edge <url>", "edge to stream results to (token from the Secret distill-edge-<run>, key token)", edgeUrl)
    .option("--parallelism <n>", "shards of a stage running at once")
    .requiredOption("--out <dir>", "where the Job files go")
    .action(
      (o: {
        plan: string;
        image: string;
        claim: string;
        repo: string;
        runDir?: string;
        namespace?: string;
        edge?: string;
        parallelism?: string;
        out: string;
      }) => {
        const plan = readPlanFile(o.plan);
        const jobs = kubernetesJobs(plan, {
          ...o,
          runDir: o.runDir ?? `/data/runs/${plan.run}`,
          parallelism: o.parallelism ? Number(o.parallelism) : undefined,
        });
        const files = jobs.map((j, i) => {
          const f = join(o.out, `${String(i + 1)}-${(j.metadata as { name: string }).name}.json`);
          writeJsonAtomic(f, j);
          return f;
        });
        if (o.edge)
          process.stdout.write(
            `kubectl create secret generic distill-edge-${plan.run.toLowerCase()} --from-literal=token=<worker token of run ${plan.run}>\n`,
          );
        process.stdout.write(kubectlCommands(plan, files, o.namespace).join("\n") + "\n");
        process.stderr.write(
          `${jobs.length} Jobs written (${jobs.map((j) => (j.metadata as { name: string }).name).join(", ")})\n`,
        );
      },
    );
  addDispatchCommand(cluster);
  addAdminCommands(cluster);
}

interface AdminOptions {
  edge: string;
  tokenFile: string;
}

/** The admin's side, over the edge: launch a plan, watch it, cancel it. */
function addAdminCommands(cluster: Command): void {
  const admin = (o: AdminOptions) => new EdgeApi(o.edge, readTokenFile(o.tokenFile));
  const common = (c: Command) =>
    c
      .requiredOption("--edge <url>", "the edge's base URL", edgeUrl)
      .requiredOption("--token-file <file>", "a file holding an admin token (for this run, or *)");
  common(
    cluster.command("launch").description("launch a plan through the edge (the same plan again is the same launch)"),
  )
    .requiredOption("--plan <file.json>", "the cluster plan")
    .action(async (o: AdminOptions & { plan: string }) => {
      const plan = readPlanFile(o.plan);
      const r = await admin(o).call<{ state: string; createdAt: string }>("POST", "/v1/launches", plan);
      process.stdout.write(
        `${r.status === 201 ? "launched" : "already launched"}: run ${plan.run}, ${plan.recoverShards} recover shards + ${stageWidth(plan, "gate")} gate tasks + ${plan.relabelShards} relabel shards, state ${r.json.state} (since ${r.json.createdAt})\n`,
      );
    });
  common(cluster.command("status").description("a launch's shards and what the edge has published"))
    .argument("<run>", "run id")
    .action(async (run: string, o: AdminOptions) => {
      const api = admin(o);
      const l = (
        await api.call<LaunchStatus & { ready?: { classes: number[]; epochs: number[][] } }>(
          "GET",
          `/v1/launches/${run}`,
        )
      ).json;
      process.stdout.write(renderStatus({ ...l, run }));
      if (l.ready)
        process.stdout.write(
          `ready for trainers: classes [${l.ready.classes.join(",")}], epochs ${l.ready.epochs.map(([a, b]) => `${a}–${b - 1}`).join(", ") || "none"}\n`,
        );
      const published = await api
        .call<{ images: { present: number; expected: number }; tables: { epochs: number; epochsPresent: number } }>(
          "GET",
          `/v1/runs/${run}/status`,
        )
        .catch(() => undefined);
      if (published)
        process.stdout.write(
          `published: ${published.json.images.present}/${published.json.images.expected} images, ${published.json.tables.epochsPresent}/${published.json.tables.epochs} epochs of labels\n`,
        );
    });
  common(cluster.command("cancel").description("ask the dispatcher to cancel a launch's jobs"))
    .argument("<run>", "run id")
    .action(async (run: string, o: AdminOptions) => {
      const r = await admin(o).call<{ state: string }>("POST", `/v1/launches/${run}/cancel`);
      process.stdout.write(`run ${run}: ${r.json.state}\n`);
    });
}
