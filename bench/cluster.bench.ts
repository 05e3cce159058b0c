// Cluster runs on this machine's single-node Slurm (scripts/slurm-local.ts; needs root and
// Debian's slurm packages): per-shard fixed overhead — Slurm scheduling, process start (node,
// data, teacher, shard verification), upload to the edge (wrangler dev) — and the wall time of
// one MNIST job run as 1, 2 and 4 recover + relabel shards, beside the same work in one process.
// Then the shard layout and expected wall time of ImageNet-1K IPC 50 from measured per-step
// costs (bench/results/imagenet-shape-resnet18.json). Writes bench/results/cluster.json.
//   BENCH_TEACHER=<an MNIST teacher.onnx> nice -n 10 npx tsx bench/cluster.bench.ts   (BENCH_PROJECTION_ONLY=1: only the ImageNet part)
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSlurm } from "../scripts/slurm-local.ts";
import { startEdge, token } from "../tests/stream/fixture.ts";
import { recoverPlan } from "../gpu-cluster/stages/recover-plan.ts";
import { shardPlan } from "../gpu-cluster/cli/cluster/shard-plan.ts";

const root = join(process.cwd(), "test-output", "bench-cluster");
const reference = join(root, "reference");
// MNIST, IPC 20: 4 recover batches of 50 images (50 steps each), 20 relabel epochs of 200 crops
const job = ["--ipc", "20", "--recover-batch", "50", "--iterations", "50", "--epochs", "20", "--threads", "1"];
const distill = (args: string[], env: Record<string, string> = {}) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", "gpu-cluster/cli/distill.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`distill ${args.slice(0, 2).join(" ")} failed:\n${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout };
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * ImageNet-1K IPC 50 cut for N workers, from the measured ResNet-18 costs at 224 px
 * (bench/results/imagenet-shape-resnet18.json: CPU time of one recover step at batch 100 and
 * relabel crops per core-second). Recover: SRe2L's ImageNet recipe, 1000 steps per batch.
 * Per-shard wall time = its batches × 1000 × step cost (+ its relabel epochs × 50 000 crops / rate).
 */
function imagenetProjection() {
  const m = JSON.parse(readFileSync("bench/results/imagenet-shape-resnet18.json", "utf8"));
  const stepSeconds = m.recover.cpuMs / 1000;
  const cropsPerSecond = m.relabel.cropsPerCoreSecond;
  const batches = recoverPlan(1000, 50, 100).length;
  return {
    layout: `${batches} recover batches of 100 images (100 classes × 1 IPC index), 1000 steps each; 300 relabel epochs × 50 000 crops`,
    measured: {
      recoverStepCoreSeconds: round(stepSeconds, 1),
      relabelCropsPerCoreSecond: round(cropsPerSecond, 1),
      from: `${m.command} (${m.date})`,
    },
    perWorker: [8, 64, 500].map((workers) => {
      const p = shardPlan({ classes: 1000, ipc: 50, recoverBatch: 100, epochs: 300 }, workers, Math.min(workers, 300));
      const batchesPerShard = Math.max(...p.recover.map((r) => r.end - r.start));
      const epochsPerShard = Math.max(...p.relabel.map((r) => r.end - r.start));
      return {
        workers,
        recoverShards: p.recover.length,
        batchesPerShard,
        relabelShards: p.relabel.length,
        epochsPerShard,
        hoursOnOneCpuCoreEach: {
          recover: round((batchesPerShard * 1000 * stepSeconds) / 3600),
          relabel: round((epochsPerShard * 50_000) / cropsPerSecond / 3600, 2),
        },
      };
    }),
  };
}

if (process.env.BENCH_PROJECTION_ONLY) {
  const file = "bench/results/cluster.json";
  const r = JSON.parse(readFileSync(file, "utf8"));
  r.imagenet = imagenetProjection();
  writeFileSync(file, JSON.stringify(r, null, 1) + "\n");
  console.log(JSON.stringify(r.imagenet, null, 1));
  process.exit(0);
}

rmSync(join(root, "runs"), { recursive: true, force: true });
mkdirSync(root, { recursive: true });
// a ConvNet-3 MNIST teacher: BENCH_TEACHER, else a 1-epoch squeeze here
const teacher = process.env.BENCH_TEACHER ?? join(reference, "teacher.onnx");
if (!existsSync(teacher))
  distill(["squeeze", "--out", reference, "--teacher-epochs", "1", "--threads", "1", "--quiet"]);

// the same work in one process (no scheduler): recover + relabel
const single = join(root, "runs", "single");
distill(["squeeze", "--out", single, "--teacher", teacher, "--quiet"]);
const oneProcess =
  distill(["recover", "--out", single, ...job, "--quiet"]).seconds +
  distill(["relabel", "--out", single, ...job, "--run-id", "bench", "--quiet"]).seconds;
console.log(`one process (recover + relabel): ${round(oneProcess)} s`);

const slurm = await startSlurm({ cpus: cpus().length });
const env = { ...process.env, ...slurm.env } as Record<string, string>;
const results: Record<string, unknown> = {};
try {
  // Slurm scheduling: submit → COMPLETED of a job that does nothing, 5 times
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const id = spawnSync("sbatch", ["--parsable", "-o", "/dev/null", "--wrap", "true"], {
      encoding: "utf8",
      env,
    }).stdout.trim();
    for (;;) {
      const s = spawnSync("squeue", ["-h", "-t", "all", "-j", id, "-o", "%T"], { encoding: "utf8", env }).stdout.trim();
      if (s === "COMPLETED") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    latencies.push((performance.now() - t0) / 1000);
  }
  const scheduling = latencies.sort((a, b) => a - b)[2];

  // wall time of the job as 1, 2, 4 shards
  const wall: Record<string, number> = {};
  for (const n of [1, 2, 4]) {
    const dir = join(root, "runs", `shards-${n}`);
    const plan = {
      run: `bench${n}`,
      ipc: 20,
      options: ["--teacher", teacher, ...job.slice(2)],
      recoverShards: n,
      relabelShards: n,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
    const r = distill(
      ["cluster", "submit", "--plan", join(dir, "plan.json"), "--run-dir", dir, "--wait", "--poll", "0.5"],
      env,
    );
    if (!r.stdout.includes("completed")) throw new Error(r.stdout);
    wall[n] = round(r.seconds);
    const same = readFileSync(join(dir, "labels.dlt"))
      .subarray(64)
      .equals(readFileSync(join(single, "labels.dlt")).subarray(64));
    console.log(`${n} shard(s): ${round(r.seconds)} s wall (labels ${same ? "identical" : "DIFFER"} to one process)`);
  }

  // process start: a shard whose verified output exists (node, tsx, data, teacher, verification, exit)
  const shardArgs = [
    "--out",
    join(root, "runs", "shards-4"),
    "--ipc",
    "20",
    "--teacher",
    teacher,
    ...job.slice(2),
    "--run-id",
    "bench4",
  ];
  const plan4 = ["--recover-shards", "4", "--relabel-shards", "4", "--index", "0", "--quiet"];
  const start = distill(["shard", "recover", ...shardArgs, ...plan4]).seconds;

  // upload: the same, publishing the shard's 50 images / its 10-epoch table shard to wrangler dev
  const edge = await startEdge(join(root, "wrangler-state"));
  let upload = { images: 0, table: 0 };
  try {
    const admin = await token("admin", "*");
    const launch = await fetch(`${edge.url}/v1/launches`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ run: "bench4", ipc: 20, recoverShards: 4, relabelShards: 4 }),
    });
    if (!launch.ok) throw new Error(await launch.text());
    const tokenEnv = { DISTILL_EDGE_TOKEN: await token("worker", ["bench4"]) };
    const e = ["--edge", edge.url];
    distill(["shard", "manifest", ...shardArgs, ...plan4, ...e], tokenEnv);
    upload.images = distill(["shard", "recover", ...shardArgs, ...plan4, ...e], tokenEnv).seconds - start;
    const relabelStart = distill(["shard", "relabel", ...shardArgs, ...plan4]).seconds;
    upload.table = distill(["shard", "relabel", ...shardArgs, ...plan4, ...e], tokenEnv).seconds - relabelStart;
  } finally {
    edge.stop();
  }

  const imagenet = imagenetProjection();

  Object.assign(results, {
    date: new Date().toISOString(),
    machine: `${cpus()[0].model}, ${cpus().length} cores, shared: load average ${loadavg()[0].toFixed(1)} at the end`,
    command: "BENCH_TEACHER=<MNIST ConvNet-3 teacher.onnx> nice -n 10 npx tsx bench/cluster.bench.ts",
    job: `MNIST IPC 20, ${recoverPlan(10, 20, 50).length} recover batches of 50 × 50 steps, 20 relabel epochs × 200 crops, 1 ORT thread per task`,
    overheadSeconds: {
      slurmSchedulingMedian: round(scheduling, 2),
      processStart: round(start, 2),
      uploadImages50: round(upload.images, 2),
      uploadTableShard: round(upload.table, 2),
    },
    oneProcessSeconds: round(oneProcess),
    wallSeconds: wall,
    imagenet,
  });
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/cluster.json", JSON.stringify(results, null, 1) + "\n");
  console.log(JSON.stringify(results, null, 1));
} finally {
  await slurm.stop();
}
