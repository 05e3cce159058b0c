// A real single-node Slurm cluster on this machine, for the cluster tests and benchmarks:
// munged (as the munge user), slurmctld and slurmd (as root), all in the foreground as our own
// child processes, with their config, state, sockets and logs in one private folder and ports
// chosen free, so nothing under /etc or /run is touched and `stop()` ends exactly what was
// started. Needs root and Debian's munge, slurmctld, slurmd and slurm-client (.ci/run installs them).
//   npx tsx scripts/slurm-local.ts up     # starts, prints `export SLURM_CONF=…`, stays until Ctrl-C
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalSlurm {
  dir: string;
  /** Environment for clients (sbatch, squeue, scancel, sacct): SLURM_CONF. */
  env: Record<string, string>;
  node: string;
  stop(): Promise<void>;
}

const BINARIES = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"];

/** Why a local Slurm cannot start here (undefined: it can). */
export function slurmUnavailable(): string | undefined {
  const missing = BINARIES.filter((b) => !existsSync(b));
  if (missing.length)
    return `${missing.join(", ")} missing: apt-get install munge slurmctld slurmd slurm-client (.ci/run does)`;
  if (process.getuid?.() !== 0) return "slurmd and slurmctld must run as root here (SlurmUser=root)";
  if (!existsSync("/etc/munge/munge.key"))
    return "/etc/munge/munge.key missing: reinstall munge (its setup makes the key)";
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function uid(name: string): number {
  return Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, log?: string): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) {
      const tail = log && existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "";
      throw new Error(
        `local Slurm: ${what} did not happen within ${timeoutMs / 1000} s${tail ? `; log:\n${tail}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startSlurm(o: { cpus?: number } = {}): Promise<LocalSlurm> {
  const why = slurmUnavailable();
  if (why) throw new Error(`cannot start a local Slurm: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), "distill-slurm-"));
  const node = hostname().split(".")[0];
  // munged (another user) must traverse the folder and refuses a socket folder others cannot search
  chmodSync(dir, 0o755);
  const munge = join(dir, "munge");
  mkdirSync(munge);
  chmodSync(munge, 0o711);
  chownSync(munge, uid("munge"), Number(execFileSync("id", ["-g", "munge"], { encoding: "utf8" }).trim()));
  for (const d of ["ctld", "slurmd", "log"]) mkdirSync(join(dir, d));
  const socket = join(munge, "munge.socket");
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = join(dir, "slurm.conf");
  writeFileSync(
    conf,
    [
      "ClusterName=distilltest",
      `SlurmctldHost=${node}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      "SlurmUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, "ctld")}`,
      `SlurmdSpoolDir=${join(dir, "slurmd")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
      "SwitchType=switch/none",
      "MpiDefault=none",
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "ReturnToService=2",
      // finished jobs stay visible to squeue/scontrol for a while (no accounting daemon here)
      "MinJobAge=3600",
      "JobRequeue=1",
      "SchedulerParameters=defer_batch=0",
      "SchedulerTimeSlice=5",
      `NodeName=${node} CPUs=${o.cpus ?? 2} RealMemory=1000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { stdio: "ignore", env: { ...process.env, SLURM_CONF: conf } });
    children.push(c);
    return c;
  };
  const env = { SLURM_CONF: conf };
  const stop = async () => {
    // slurmd, then slurmctld, then munged: each by its own PID
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    // job steps slurmd started (slurmstepd, the job scripts) belong to its session: end any left
    const left = spawnSync("pgrep", ["-f", `slurmstepd.*${dir}`], { encoding: "utf8" });
    for (const pid of left.stdout.split(/\s+/).filter(Boolean)) spawnSync("kill", ["-9", pid]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    start("runuser", [
      "-u",
      "munge",
      "--",
      "/usr/sbin/munged",
      "--foreground",
      `--socket=${socket}`,
      `--pid-file=${join(munge, "munged.pid")}`,
      `--log-file=${join(munge, "munged.log")}`,
      `--seed-file=${join(munge, "munged.seed")}`,
    ]);
    await waitFor("munged's socket", () => existsSync(socket), 15_000, join(munge, "munged.log"));
    start("/usr/sbin/slurmctld", ["-D", "-f", conf]);
    start("/usr/sbin/slurmd", ["-D", "-f", conf]);
    const idle = () => {
      const r = spawnSync("sinfo", ["-h", "-N", "-o", "%T"], { encoding: "utf8", env: { ...process.env, ...env } });
      return r.status === 0 && /^(idle|mixed|allocated)/.test(r.stdout.trim());
    };
    await waitFor("the node coming up idle", idle, 60_000, join(dir, "log", "slurmctld.log"));
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, env, node, stop };
}

if (process.argv[1]?.endsWith("slurm-local.ts") && process.argv[2] === "up") {
  const s = await startSlurm();
  process.stdout.write(`local Slurm up (node ${s.node}); in another shell:\n  export SLURM_CONF=${s.env.SLURM_CONF}\n`);
  const down = async () => {
    await s.stop();
    process.exit(0);
  };
  process.on("SIGINT", down);
  process.on("SIGTERM", down);
}
