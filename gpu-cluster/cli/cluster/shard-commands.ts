// `distill shard recover|gate|relabel|merge`: one shard job of a cluster run. Each takes the run's
// options (as `distill run`) plus the plan (--recover-shards, --relabel-shards); the shard index
// comes from --index, else from the scheduler: SLURM_ARRAY_TASK_ID (a Slurm job array) or
// JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
import type { Command } from "commander";
import { addRunOptions, type CliOptions } from "../options.ts";
import { Pipeline } from "../pipeline.ts";
import { ClusterShards } from "./shards.ts";
import { EdgeApi, tokenFromEnv } from "./edge-api.ts";
import { edgeUrl } from "../edge-url.ts";
import { int } from "../number-args.ts";

export interface ShardOptions extends CliOptions {
  recoverShards: number;
  relabelShards: number;
  index?: number;
  edge?: string;
}

/** The shard index: the flag, else the scheduler's array index. */
export function shardIndex(o: { index?: number }, env: NodeJS.ProcessEnv = process.env): number {
  const raw = o.index ?? env.SLURM_ARRAY_TASK_ID ?? env.JOB_COMPLETION_INDEX;
  const n = Number(raw);
  if (raw === undefined || raw === "" || !Number.isInteger(n) || n < 0)
    throw new Error(
      `no shard index: pass --index N, or run as a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); got '${raw ?? ""}'`,
    );
  return n;
}

export function addShardOptions(cmd: Command): Command {
  return addRunOptions(cmd)
    .requiredOption("--recover-shards <n>", "recover shards of the run's plan", int("--recover-shards", 1))
    .requiredOption("--relabel-shards <n>", "relabel shards of the run's plan", int("--relabel-shards", 1))
    .option("--index <i>", "this shard (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)", int("--index"))
    .option(
      "--edge <url>",
      "publish what the shard made to this edge (worker token from DISTILL_EDGE_TOKEN_FILE or DISTILL_EDGE_TOKEN)",
      edgeUrl,
    );
}

export function addShardCommands(program: Command): void {
  const shard = program
    .command("shard")
    .description("one shard job of a cluster run (docs/cluster.md); merged, the shards equal `distill run`");
  // each shard job: the run's Pipeline, refused before it writes anything as `distill run` is (a
  // shard started by hand), and leaving no folder behind when refused
  const shards = (o: ShardOptions, work: (s: ClusterShards) => Promise<unknown>) => {
    const p = new Pipeline(o, ["distill", ...process.argv.slice(2)].join(" "));
    process.stderr.write(`run folder: ${p.run.dir}\n`);
    return p.run.runOrDiscardEmpty(async () => {
      p.refuseUnservableFlags();
      await work(new ClusterShards(p, o.recoverShards, o.relabelShards));
    });
  };
  const edge = (o: ShardOptions) => (o.edge ? new EdgeApi(o.edge, tokenFromEnv()) : undefined);
  addShardOptions(shard.command("recover").description("recover batches of shard --index (needs teacher.onnx)")).action(
    (o: ShardOptions) =>
      shards(o, async (s) => {
        const i = shardIndex(o);
        await s.recoverShard(i);
        const api = edge(o);
        if (api) await s.publishRecover(i, api);
      }),
  );
  addShardOptions(
    shard
      .command("gate")
      .description("the recover gate's student of candidate --index (needs every recover shard; none without a gate)"),
  ).action((o: ShardOptions) => shards(o, (s) => s.gateShard(shardIndex(o))));
  addShardOptions(
    shard
      .command("relabel")
      .description(
        "label-table shard --index: its epoch range (needs every recover shard, and the gate tasks where the run has a gate)",
      ),
  ).action((o: ShardOptions) =>
    shards(o, async (s) => {
      const j = shardIndex(o);
      await s.relabelShard(j);
      const api = edge(o);
      if (api) await s.publishRelabel(j, api);
    }),
  );
  addShardOptions(
    shard.command("manifest").description("publish the run's manifest to --edge (after squeeze: it names the teacher)"),
  ).action((o: ShardOptions) => {
    const api = edge(o);
    if (!api) throw new Error("distill shard manifest needs --edge URL");
    return shards(o, (s) => s.publishManifest(api));
  });
  addShardOptions(
    shard.command("merge").description("images.npy, images/, grid.png, labels.dlt, manifest.json from the shards"),
  ).action((o: ShardOptions) => shards(o, (s) => s.merge()));
}
