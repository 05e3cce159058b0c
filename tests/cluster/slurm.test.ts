// A cluster run on a real single-node Slurm (started here, stopped after): `distill cluster
// submit` submits the squeeze job, the recover and relabel job arrays and the merge job as an
// afterok chain; while it runs, one recover array task is scancelled (the dispatcher resubmits
// that shard and the stages after it), one relabel process is SIGKILLed (its job script runs it
// again), and the dispatcher itself is killed and restarted with its record deleted (it adopts
// its jobs from squeue instead of submitting them again). The merged run is byte-identical to
// the single-process one.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slurmUnavailable, startSlurm, type LocalSlurm } from "../../scripts/slurm-local.ts";
import { referenceRun, tinyPlan } from "./tiny-run.ts";

const root = join(process.cwd(), "test-output", "cluster-slurm");
const data = join(root, "data");
const single = join(root, "single");
const runDir = join(root, "cluster");
const why = slurmUnavailable();
// CI installs Slurm (.ci/run): there a missing Slurm is a failure, not a skip
const skip = why !== undefined && !process.env.CI;
if (skip) console.warn(`cluster Slurm test skipped: ${why}`);

let slurm: LocalSlurm | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sq(s: LocalSlurm, args: string[]): string {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8", env: { ...process.env, ...s.env } });
  return r.stdout;
}

function dispatcher(
  s: LocalSlurm,
  planFile: string,
): { child: ChildProcess; out: () => string; done: Promise<number> } {
  let text = "";
  // node itself (not the tsx launcher, whose child would outlive a SIGKILL)
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "gpu-cluster/cli/distill.ts",
      "cluster",
      "submit",
      "--plan",
      planFile,
      "--run-dir",
      runDir,
      "--wait",
      "--poll",
      "1",
    ],
    { env: { ...process.env, ...s.env, FORCE_COLOR: "0" } },
  );
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  return { child, out: () => text, done: new Promise((r) => child.on("exit", (code) => r(code ?? -1))) };
}

async function until(what: string, check: () => boolean, ms = 180_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

describe.skipIf(skip)("Slurm cluster run", () => {
  beforeAll(async () => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    slurm = await startSlurm();
    referenceRun(data, single);
  });
  afterAll(async () => {
    await slurm?.stop();
  });

  it("survives a scancelled array task, a killed shard process and a dispatcher restart; merged run is identical", async () => {
    const s = slurm!;
    const planFile = join(root, "plan.json");
    writeFileSync(planFile, JSON.stringify(tinyPlan(data, join(single, "teacher.onnx"))));
    const first = dispatcher(s, planFile);
    // a recover array task, once running, is cancelled as an operator (or a preemption) would
    let cancelled = "";
    await until("a running recover task", () => {
      const line = sq(s, ["squeue", "-h", "-r", "-t", "RUNNING", "-o", "%i %j"])
        .split("\n")
        .find((l) => l.includes("-recover-g0"));
      if (line) cancelled = line.split(" ")[0];
      return !!line;
    });
    sq(s, ["scancel", cancelled]);
    // the dispatcher dies and loses its record: the restarted one must adopt, not resubmit
    first.child.kill("SIGKILL");
    await first.done;
    rmSync(join(runDir, "slurm", "dispatch.json"));
    const second = dispatcher(s, planFile);
    // a relabel shard's process is SIGKILLed mid-run: its job script runs it again
    let killed = false;
    await until("a running relabel process", () => {
      const r = spawnSync("pgrep", ["-f", `distill.ts shard relabel .*--out ${runDir}`], { encoding: "utf8" });
      const pid = r.stdout.split("\n").filter(Boolean)[0];
      if (pid) killed = process.kill(Number(pid), "SIGKILL");
      return killed;
    });
    expect(await second.done, second.out()).toBe(0);
    const out = second.out();
    expect(out).toMatch(/adopted d-tiny0-squeeze-g0/);
    expect(out).toMatch(/retrying recover shards [0-9]/);
    expect(out).toMatch(/run tiny0: completed/);

    // every job name was submitted once (one job id per name; array tasks share their job's id)
    const jobs = new Set(sq(s, ["squeue", "-h", "-t", "all", "-o", "%F %j"]).split("\n").filter(Boolean));
    const names = [...jobs].map((l) => l.split(" ")[1]);
    expect(names.length).toBe(new Set(names).size);
    expect(names).toContain("d-tiny0-recover-g1");
    const logs = readdirSync(join(runDir, "slurm", "logs")).map((f) =>
      readFileSync(join(runDir, "slurm", "logs", f), "utf8"),
    );
    expect(logs.join("\n")).toMatch(/stage relabel attempt 1 of 3 failed/);

    for (const f of ["images.npy", "grid.png", "recover.json", "labels.dlt"])
      expect(readFileSync(join(runDir, f)).equals(readFileSync(join(single, f))), f).toBe(true);
    for (const f of readdirSync(join(single, "images")))
      expect(readFileSync(join(runDir, "images", f)).equals(readFileSync(join(single, "images", f))), f).toBe(true);
    // nothing half-written is left: no temporary files anywhere in the run folder
    const tmp = spawnSync("find", [runDir, "-name", "*.tmp-*"], { encoding: "utf8" }).stdout.trim();
    expect(tmp).toBe("");
  });
});
