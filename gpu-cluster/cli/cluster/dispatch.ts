// `distill cluster dispatch --edge URL --token-file F --root DIR`: the cluster side of a launch.
// It runs on a login node (outbound HTTPS only: the edge never calls in), polls the edge for
// launches, turns each into Slurm jobs (slurm.ts: an afterok chain of job arrays whose record
// lives in DIR/<run>/slurm/), mints the run's worker token for the jobs' uploads, follows the
// jobs, resubmits failed shards, cancels when an admin asked to, and reports every shard's state
// back. Killed and restarted, it picks up from the records and squeue: nothing is submitted twice.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { writeFileAtomic } from "../../io/atomic-write.ts";
import { parseClusterPlan } from "../../../shared/cluster-plan.ts";
import { edgeUrl } from "../edge-url.ts";
import { EdgeApi, readTokenFile } from "./edge-api.ts";
import { SlurmLauncher, type LaunchStatus } from "./slurm.ts";

interface EdgeLaunch {
  plan: unknown;
  state: string;
  cancelRequested: boolean;
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export interface DispatchOptions {
  edge: string;
  token: string;
  root: string;
  repo?: string;
  /** Worker-token lifetime for a run's jobs. */
  workerTtlSeconds?: number;
  log?: (line: string) => void;
}

export class Dispatcher {
  private readonly api: EdgeApi;

  constructor(readonly o: DispatchOptions) {
    this.api = new EdgeApi(o.edge, o.token);
  }

  /** The run's worker token for its jobs' uploads, minted once and kept beside the run (mode 600). */
  private async workerTokenFile(run: string, runDir: string): Promise<string> {
    const file = join(runDir, "slurm", "worker-token");
    if (existsSync(file)) return file;
    mkdirSync(join(runDir, "slurm"), { recursive: true });
    const r = await this.api.call<{ token: string }>("POST", "/v1/tokens", {
      role: "worker",
      runs: [run],
      ttlSeconds: this.o.workerTtlSeconds ?? 7 * 24 * 3600,
      sub: `dispatch:${run}`,
    });
    writeFileAtomic(file, r.json.token);
    chmodSync(file, 0o600);
    return file;
  }

  /** One pass over the edge's launches; returns the statuses reported. */
  async tick(): Promise<LaunchStatus[]> {
    const launches = (await this.api.call<EdgeLaunch[]>("GET", "/v1/launches")).json;
    const out: LaunchStatus[] = [];
    for (const l of launches) {
      if (TERMINAL.has(l.state)) continue;
      const plan = parseClusterPlan(l.plan);
      const runDir = resolve(this.o.root, plan.run);
      try {
        const tokenFile = await this.workerTokenFile(plan.run, runDir);
        const launcher = new SlurmLauncher(
          plan,
          { repo: this.o.repo ?? process.cwd(), runDir, node: process.execPath, edge: this.o.edge },
          { env: { DISTILL_EDGE_TOKEN_FILE: tokenFile }, log: (line) => this.o.log?.(`${plan.run}: ${line}`) },
        );
        const status = launcher.tick(l.cancelRequested);
        await this.api.call("PUT", `/v1/launches/${plan.run}/report`, {
          state: status.state,
          shards: status.shards,
          message: status.message,
        });
        out.push(status);
      } catch (e) {
        this.o.log?.(`${plan.run}: ${(e as Error).message}`);
      }
    }
    return out;
  }
}

/**
 * One dispatcher per root: two at once could both submit a launch. The lock file holds host and
 * PID; a lock whose process is gone (a killed dispatcher) is taken over, one held by a live
 * process (or by another host, whose processes we cannot see) is refused.
 */
export function lockRoot(root: string): () => void {
  mkdirSync(root, { recursive: true });
  const file = join(root, "dispatch.lock");
  const me = `${hostname()} ${process.pid}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, me, { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const [host, pid] = readFileSync(file, "utf8").split(" ");
      let alive = host !== hostname();
      if (!alive) {
        try {
          process.kill(Number(pid), 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (alive)
        throw new Error(
          `another dispatcher (${host}, pid ${pid}) serves ${root}: stop it, or remove ${file} if it is gone`,
        );
      rmSync(file, { force: true }); // its process is gone: take over
    }
  }
  throw new Error(`could not take ${file}`);
}

export function addDispatchCommand(cluster: Command): void {
  cluster
    .command("dispatch")
    .description("poll the edge for launches; submit them to Slurm, follow, retry, cancel, report (docs/cluster.md)")
    .requiredOption("--edge <url>", "the edge's base URL", edgeUrl)
    .requiredOption("--token-file <file>", "a file holding an admin token (scoped to the runs it may launch, or *)")
    .option("--root <dir>", "where run folders go (the cluster's shared file system)", "runs/cluster")
    .option("--poll <seconds>", "seconds between polls", "5")
    .option("--once", "one pass, then exit", false)
    .action(async (o: { edge: string; tokenFile: string; root: string; poll: string; once: boolean }) => {
      const unlock = lockRoot(o.root);
      process.once("SIGTERM", () => {
        unlock();
        process.exit(143);
      });
      process.once("SIGINT", () => {
        unlock();
        process.exit(130);
      });
      const d = new Dispatcher({
        edge: o.edge,
        token: readTokenFile(o.tokenFile),
        root: o.root,
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      for (;;) {
        try {
          for (const s of await d.tick())
            process.stderr.write(
              `${new Date().toISOString()} ${s.run}: ${s.state}, ${s.shards.filter((x) => x.state === "COMPLETED").length}/${s.shards.length} shards done\n`,
            );
        } catch (e) {
          // the edge unreachable for a while: keep polling (launch state lives on both sides)
          process.stderr.write(`${new Date().toISOString()} dispatch: ${(e as Error).message}\n`);
        }
        if (o.once) break;
        await new Promise((r) => setTimeout(r, Number(o.poll) * 1000));
      }
      unlock();
    });
}
