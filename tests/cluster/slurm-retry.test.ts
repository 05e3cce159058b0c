// The Slurm dispatcher retries a failed shard at once, while the rest of its array runs on, and
// the stages after it wait on the unfinished tasks one by one (a job holding a failed task never
// satisfies afterok). A real single-node Slurm runs the job scripts the dispatcher writes; the
// stages themselves are stood in for by a script in place of `node` (the dispatcher is what is
// tested here; tests/cluster/edge-launch runs the real stages): recover shard 1 fails once at
// once, the other recover shards take 8 s, everything else succeeds.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { slurmUnavailable, startSlurm, type LocalSlurm } from "../../scripts/slurm-local.ts";
import { SlurmLauncher, type LaunchStatus } from "../../gpu-cluster/cli/cluster/slurm.ts";
import { parseClusterPlan } from "../../shared/cluster-plan.ts";

const root = join(process.cwd(), "test-output", "slurm-retry");
const why = slurmUnavailable();
let slurm: LocalSlurm | undefined;

afterAll(async () => slurm?.stop());

describe.skipIf(why)("Slurm dispatcher: retries", () => {
  it("resubmits a failed recover shard while its array runs on; later stages wait on tasks", async () => {
    rmSync(root, { recursive: true, force: true });
    const runDir = join(root, "run");
    mkdirSync(runDir, { recursive: true });
    // args: --import tsx <distill.ts> <command> [<stage>] …; the index comes from Slurm's environment
    const fake = join(root, "fake-node.sh");
    writeFileSync(
      fake,
      [
        "#!/bin/bash",
        `calls=${runDir}/calls.log`,
        'task="$4 ${5:-} ${SLURM_ARRAY_TASK_ID:-0}"',
        'echo "start $(date +%s%N) $task" >> "$calls"',
        'if [ "$4 $5" = "shard recover" ]; then',
        `  if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ ! -e ${runDir}/failed-once ]; then touch ${runDir}/failed-once; exit 3; fi`,
        "  sleep 8",
        "fi",
        'echo "end $(date +%s%N) $task" >> "$calls"',
        "",
      ].join("\n"),
    );
    chmodSync(fake, 0o755);
    slurm = await startSlurm({ cpus: 2 });
    const plan = parseClusterPlan({
      run: "retry0",
      ipc: 2,
      options: ["--no-recover-gate"],
      recoverShards: 3,
      relabelShards: 1,
    });
    const log: { at: number; line: string }[] = [];
    const launcher = new SlurmLauncher(
      plan,
      { repo: process.cwd(), runDir, node: fake, attempts: 1 },
      { env: slurm.env, log: (line) => log.push({ at: Date.now(), line }) },
    );
    let status: LaunchStatus;
    const t0 = Date.now();
    do {
      status = launcher.tick();
      if (Date.now() - t0 > 180_000) throw new Error(`timed out:\n${log.map((l) => l.line).join("\n")}`);
      await sleep(200);
    } while (status.state === "running");
    const lines = log.map((l) => l.line).join("\n");
    expect(status.state, lines).toBe("completed");
    expect(status.shards.every((s) => s.state === "COMPLETED")).toBe(true);
    const retry = log.find((l) => /retrying recover shards 1 as job/.test(l.line));
    expect(retry, lines).toBeDefined();
    // at once: before the other recover shards of the first array ended (they take 8 s)
    const calls = readFileSync(join(runDir, "calls.log"), "utf8").trim().split("\n");
    const ends = calls
      .filter((c) => / shard recover [02]$/.test(c) && c.startsWith("end "))
      .map((c) => Number(c.split(" ")[1]) / 1e6);
    expect(ends).toHaveLength(2);
    expect(retry!.at).toBeLessThan(Math.min(...ends));
    // the relabel stage, resubmitted, waits on the first array's unfinished tasks one by one and on the retry
    const relabel = log.find((l) => /submitted d-retry0-relabel-g1 as job/.test(l.line));
    expect(relabel?.line, lines).toMatch(/afterok:([0-9]+_[02]:){1,2}[0-9]+\)/);
    // recover shard 1 ran twice, everything else once
    const starts = calls.filter((c) => c.startsWith("start ")).map((c) => c.split(" ").slice(2).join(" "));
    expect(starts.filter((s) => s === "shard recover 1")).toHaveLength(2);
    expect(starts.filter((s) => s === "shard relabel 0")).toHaveLength(1);
  }, 240_000);
});
