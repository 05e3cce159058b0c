// The whole loop on real servers: `wrangler dev` (the edge), a private single-node Slurm, and
// `distill cluster dispatch` between them. An admin launches the tiny run (recover gate on, as
// `distill run` by default; 4 bits per pixel) as 4 recover shards, 3 gate tasks and 3 relabel
// shards; the dispatcher submits the job arrays (afterok chain), the jobs publish the images the
// gate kept with their manifest (the kept count is in it) and their table shards as they finish. Faults on the way: a second
// dispatcher on the same root is refused; a running recover array task is scancelled (the
// dispatcher resubmits that shard and redoes the stages after it); the dispatcher is SIGKILLed
// and restarted with its record deleted (it adopts its jobs from squeue: every job name is
// submitted once); a relabel process is SIGKILLed (its job script runs it again). The edge then
// holds exactly the images of the single-process run (re-uploading each reference PNG is
// "unchanged") and a trainer streams every batch of every epoch with 0 labels differing from the
// single-process table. A trainer cannot launch. A second launch is cancelled: its jobs stop and
// the edge says "cancelled".
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slurmUnavailable, startSlurm, type LocalSlurm } from "../../scripts/slurm-local.ts";
import { startEdge, token, type Edge } from "../stream/fixture.ts";
import { BatchClient } from "../../edge/client/batch-client.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { splitEvenly } from "../../gpu-cluster/cli/cluster/shard-plan.ts";
import { referenceRun, tinyPlan } from "./tiny-run.ts";

const root = join(process.cwd(), "test-output", "cluster-edge");
const data = join(root, "data");
const single = join(root, "single");
const why = slurmUnavailable();
const skip = why !== undefined && !process.env.CI;
if (skip) console.warn(`cluster edge test skipped: ${why}`);

let slurm: LocalSlurm | undefined;
let edge: Edge | undefined;
let dispatcher: ChildProcess | undefined;
let dispatchLog = "";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(path: string, tok: string, method = "GET", json?: unknown) {
  const r = await fetch(`${edge!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(json ? { "content-type": "application/json" } : {}) },
    body: json ? JSON.stringify(json) : undefined,
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

async function untilLaunch(run: string, admin: string, ok: (l: Record<string, unknown>) => boolean, ms = 400_000) {
  const t0 = Date.now();
  for (;;) {
    const l = (await api(`/v1/launches/${run}`, admin)).json;
    if (ok(l)) return l;
    if (Date.now() - t0 > ms)
      throw new Error(
        `launch ${run} stuck: ${JSON.stringify(l).slice(0, 800)}\ndispatcher:\n${dispatchLog.slice(-3000)}`,
      );
    await sleep(1000);
  }
}

describe.skipIf(skip)("a cluster run launched through the edge", () => {
  beforeAll(async () => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const servers = Promise.all([startSlurm(), startEdge(join(root, "wrangler-state"))]);
    referenceRun(data, single, [], "4"); // with the gate's defaults, at 4 bits, while wrangler dev starts
    [slurm, edge] = await servers;
  });
  afterAll(async () => {
    dispatcher?.kill("SIGKILL");
    edge?.stop();
    await slurm?.stop();
  });

  it("admin launch → Slurm job arrays → shards stream back → the trainer's labels equal distill run's; cancel stops a run", async () => {
    const admin = await token("admin", "*");
    const trainer = await token("trainer", ["e2e1"]);
    const plan = tinyPlan(data, join(single, "teacher.onnx"), "e2e1", 4, 3, [], "4");
    expect((await api("/v1/launches", trainer, "POST", plan)).status).toBe(403);
    expect((await api("/v1/launches", admin, "POST", plan)).status).toBe(201);
    expect((await api("/v1/launches", admin, "POST", plan)).status).toBe(200); // the same launch

    const tokenFile = join(root, "admin-token");
    writeFileSync(tokenFile, admin, { mode: 0o600 });
    const runDir = join(root, "runs", "e2e1");
    // node itself, not the tsx launcher (whose child would outlive a SIGKILL)
    const dispatchArgs = ["--edge", edge!.url, "--token-file", tokenFile, "--root", join(root, "runs"), "--poll", "1"];
    const startDispatcher = () => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "gpu-cluster/cli/distill.ts", "cluster", "dispatch", ...dispatchArgs],
        { env: { ...process.env, ...slurm!.env } },
      );
      child.stderr!.on("data", (d) => (dispatchLog += d));
      return child;
    };
    const squeue = (args: string[]) =>
      spawnSync("squeue", ["-h", ...args], { encoding: "utf8", env: { ...process.env, ...slurm!.env } }).stdout;
    const until = async (what: string, check: () => boolean) => {
      const t0 = Date.now();
      while (!check()) {
        if (Date.now() - t0 > 300_000) throw new Error(`timed out waiting for ${what}:\n${dispatchLog.slice(-3000)}`);
        await sleep(300);
      }
    };
    dispatcher = startDispatcher();
    await until("the dispatcher's lock", () => existsSync(join(root, "runs", "dispatch.lock")));

    // (b) a running recover array task is cancelled, as an operator or a preemption would
    let task = "";
    await until("a running recover task", () => {
      task =
        squeue(["-r", "-t", "RUNNING", "-o", "%i %j"])
          .split("\n")
          .find((l) => l.includes("e2e1-recover-g0")) ?? "";
      return task !== "";
    });
    spawnSync("scancel", [task.split(" ")[0]], { env: { ...process.env, ...slurm!.env } });
    // (c) the dispatcher dies and loses its record: the restarted one adopts its jobs from squeue
    const exited = new Promise((r) => dispatcher!.once("exit", r));
    dispatcher.kill("SIGKILL");
    await exited;
    rmSync(join(runDir, "slurm", "dispatch.json"));
    dispatcher = startDispatcher();
    // (b) a relabel shard's process is SIGKILLed mid-run: its job script runs it again
    await until("a running relabel process", () => {
      const r = spawnSync("pgrep", ["-f", `distill.ts shard relabel .*--out ${runDir}`], { encoding: "utf8" });
      const pid = r.stdout.split("\n").filter(Boolean)[0];
      return pid !== undefined && process.kill(Number(pid), "SIGKILL");
    });

    const done = await untilLaunch("e2e1", admin, (l) => l.state === "completed" || l.state === "failed");
    expect(done.state, dispatchLog).toBe("completed");
    // a second dispatcher on the same root is refused (it could submit a launch again); asked only
    // now, since starting one takes seconds under load, longer than the recover tasks above run
    const second = spawnSync(
      process.execPath,
      ["--import", "tsx", "gpu-cluster/cli/distill.ts", "cluster", "dispatch", "--once", ...dispatchArgs],
      { encoding: "utf8", env: { ...process.env, ...slurm!.env } },
    );
    expect(second.status).not.toBe(0);
    expect(second.stderr).toMatch(/another dispatcher \(.*pid [0-9]+\) serves/);
    const shards = done.shards as { stage: string; state: string }[];
    expect(shards.filter((s) => s.stage === "recover").length).toBe(4);
    expect(shards.filter((s) => s.stage === "gate").length).toBe(3); // random, start, recovered
    expect(shards.filter((s) => s.stage === "relabel").length).toBe(3);
    expect(shards.every((s) => s.state === "COMPLETED")).toBe(true);
    expect(dispatchLog).toMatch(/e2e1: adopted d-e2e1-squeeze-g0/);
    expect(dispatchLog).toMatch(/e2e1: retrying recover shards [0-3]/);
    // every job name was submitted once (one job id per name; array tasks share their job's id)
    const jobs = new Set(
      squeue(["-t", "all", "-o", "%F %j"])
        .split("\n")
        .filter((l) => l.includes("d-e2e1-")),
    );
    const names = [...jobs].map((l) => l.split(" ")[1]);
    expect(names.length).toBe(new Set(names).size);
    expect(names).toContain("d-e2e1-recover-g1");
    const logs = readdirSync(join(runDir, "slurm", "logs")).map((f) =>
      readFileSync(join(runDir, "slurm", "logs", f), "utf8"),
    );
    expect(logs.join("\n")).toMatch(/stage relabel attempt 1 of 3 failed/);
    // the cluster's merged run folder is the single-process one, and nothing half-written is left
    for (const f of ["images.npy", "images.dpk", "grid.png", "recover.json"])
      expect(readFileSync(join(runDir, f)).equals(readFileSync(join(single, f))), f).toBe(true);
    expect(spawnSync("find", [runDir, "-name", "*.tmp-*"], { encoding: "utf8" }).stdout.trim()).toBe("");

    const status = (await api("/v1/runs/e2e1/status", admin)).json as {
      images: { present: number };
      tables: { shards: unknown[] };
      labelsReady: boolean;
    };
    // the gate decided the count (16 8-bit images of (b), or 32 at 4 bits) and the epochs: the
    // manifest waited for it (published with the kept images), and holds what distill run wrote
    const table = decodeLabelTable(new Uint8Array(readFileSync(join(single, "labels.dlt"))));
    const { images, epochs } = table.header;
    expect(status.images.present).toBe(images);
    expect(status.tables.shards.length).toBe(3);
    expect(status.labelsReady).toBe(true);
    // the admin's view: shard states and what trainers can use
    const cli = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-cluster/cli/distill.ts",
        "cluster",
        "status",
        "e2e1",
        "--edge",
        edge!.url,
        "--token-file",
        tokenFile,
      ],
      { encoding: "utf8" },
    );
    expect(cli.stdout, cli.stderr).toMatch(/run e2e1: completed/);
    expect(cli.stdout).toMatch(/recover +[0-3] +COMPLETED job [0-9]+ +attempts 2/);
    const ranges = splitEvenly(epochs, 3, "epochs").map((r) => `${r.start}–${r.end - 1}`);
    expect(cli.stdout).toContain(`ready for trainers: classes [0,1,2,3], epochs ${ranges.join(", ")}`);
    const manifest = (await api("/v1/runs/e2e1/manifest", admin)).json as { images: number; createdAt: string };
    const own = JSON.parse(readFileSync(join(single, "manifest.json"), "utf8"));
    expect({ ...manifest, createdAt: "", runId: "" }).toEqual({ ...own, createdAt: "", runId: "" });

    // the edge holds the single-process run's image bytes: each re-upload is "unchanged"
    const worker = await token("worker", ["e2e1"]);
    const { createHash } = await import("node:crypto");
    for (const f of readdirSync(join(single, "images"))) {
      const png = readFileSync(join(single, "images", f));
      const r = await fetch(`${edge!.url}/v1/runs/e2e1/images/${Number(f.slice(0, 6))}`, {
        method: "PUT",
        body: png,
        headers: {
          authorization: `Bearer ${worker}`,
          "x-content-sha256": createHash("sha256").update(png).digest("hex"),
          "content-length": String(png.length),
        },
      });
      expect(r.status, `${f}: ${await r.clone().text()}`).toBe(200);
      expect(((await r.json()) as { unchanged?: boolean }).unchanged, f).toBe(true);
    }

    // a trainer streams every batch of every epoch: 0 labels differ from the single-process table
    const client = await BatchClient.open({ baseUrl: edge!.url, token: trainer, run: "e2e1", batchSize: 5 });
    let crops = 0,
      differing = 0;
    for await (const b of client.batches()) {
      for (let j = 0; j < b.slots; j++) {
        const ref = table.record(b.epoch, b.firstSlot + j);
        for (let q = 0; q < b.k; q++) {
          if (ref.ids[q] !== b.ids[j * b.k + q] || ref.probs[q] !== b.probs[j * b.k + q]) differing++;
        }
        crops++;
      }
    }
    expect(crops).toBe(epochs * images);
    expect(differing).toBe(0);

    // cancel: a second launch is cancelled while its jobs wait or run
    const plan2 = tinyPlan(data, join(single, "teacher.onnx"), "e2e2");
    expect((await api("/v1/launches", admin, "POST", plan2)).status).toBe(201);
    await untilLaunch("e2e2", admin, (l) => ((l.shards as { jobId: string }[]) ?? []).some((s) => s.jobId !== ""));
    expect((await api("/v1/launches/e2e2/cancel", admin, "POST")).status).toBe(202);
    const cancelled = await untilLaunch("e2e2", admin, (l) => l.state === "cancelled", 60_000);
    expect(cancelled.cancelRequested).toBe(true);
    await sleep(2000);
    const left = spawnSync(
      "squeue",
      ["-h", "-r", "-t", "PENDING,RUNNING", "-n", "d-e2e2-squeeze-g0,d-e2e2-recover-g0"],
      {
        encoding: "utf8",
        env: { ...process.env, ...slurm!.env },
      },
    ).stdout.trim();
    expect(left).toBe("");
    // a cancelled launch stays cancelled, and the dispatcher submits nothing more for it
    await sleep(2500);
    expect((await api("/v1/launches/e2e2", admin)).json.state).toBe("cancelled");
    expect(dispatchLog).not.toMatch(/e2e2: submitted d-e2e2-recover-g1/);
  });
});
