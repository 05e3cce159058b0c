// A cluster run on Slurm: one job per stage — squeeze, the recover array, the gate array (one
// task per candidate image set; none when the run has no gate), the relabel array, merge — each
// depending `afterok` on the one before, submitted with sbatch and followed with squeue. Job names are deterministic (d-<run>-<stage>-g<generation>) and every submission is
// recorded in the run folder (slurm/dispatch.json) right after sbatch returns; a dispatcher that
// restarts reads that record and adopts any job of its names that squeue knows but the record
// lost, so nothing is submitted twice. Shards that fail (a cancelled array task, a node lost,
// a process killed more often than its script retries) are resubmitted at once as a new
// generation of just those indices, while the rest of their array runs on, and the stages after
// it are cancelled and resubmitted to depend on the unfinished tasks (array tasks one by one).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../../io/atomic-write.ts";
import { ARRAY_STAGES, planStages, stageWidth, type ClusterPlan, type Stage } from "../../../shared/cluster-plan.ts";
import { jobScript, type ScriptContext } from "./job-script.ts";

export type TaskState = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";

interface Submission {
  stage: Stage;
  gen: number;
  jobId: string;
  indices: number[];
  /** Cancelled by the dispatcher because an earlier stage was resubmitted. */
  superseded?: boolean;
  /** Last state seen per index (squeue forgets finished jobs after MinJobAge). */
  seen: Record<number, TaskState>;
}

interface DispatchRecord {
  run: string;
  submissions: Submission[];
  cancelled?: boolean;
  failed?: string;
}

export interface ShardStatus {
  stage: Stage;
  index: number;
  state: TaskState;
  attempts: number;
  jobId: string;
}

export interface LaunchStatus {
  run: string;
  state: "running" | "completed" | "failed" | "cancelled";
  shards: ShardStatus[];
  message?: string;
}

const TERMINAL_OK = new Set(["COMPLETED"]);
const ACTIVE = new Set(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"]);

/**
 * The afterok list of unfinished shards: a whole job where all its tasks are unfinished, else its
 * unfinished tasks one by one (jobId_index): a job that holds a failed, retried task never
 * satisfies afterok, while its other tasks may still be running.
 */
function waitOn(stage: Stage, unfinished: [number, { sub: Submission }][]): string[] {
  const bySub = new Map<Submission, number[]>();
  for (const [i, { sub }] of unfinished) bySub.set(sub, [...(bySub.get(sub) ?? []), i]);
  return [...bySub].flatMap(([sub, indices]) =>
    !ARRAY_STAGES.includes(stage) || indices.length === sub.indices.length
      ? [sub.jobId]
      : indices.map((i) => `${sub.jobId}_${i}`),
  );
}

/** Slurm's many states folded into the five a shard can be in. */
export function foldState(s: string): TaskState {
  const base = s.split(/[\s+]/)[0];
  if (TERMINAL_OK.has(base)) return "COMPLETED";
  if (base === "RUNNING" || base === "COMPLETING" || base === "CONFIGURING") return "RUNNING";
  if (ACTIVE.has(base)) return "PENDING";
  if (base === "CANCELLED") return "CANCELLED";
  return "FAILED"; // FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED
}

export interface SlurmOptions {
  /** Environment of sbatch/squeue/scancel (SLURM_CONF …) and of the jobs (exported to them). */
  env?: Record<string, string>;
  /** Logged lines (submissions, retries, cancels). */
  log?: (line: string) => void;
}

export class SlurmLauncher {
  private record: DispatchRecord;
  private readonly file: string;
  private readonly dir: string;

  constructor(
    readonly plan: ClusterPlan,
    readonly ctx: ScriptContext,
    readonly o: SlurmOptions = {},
  ) {
    this.dir = join(ctx.runDir, "slurm");
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    this.file = join(this.dir, "dispatch.json");
    this.record = existsSync(this.file)
      ? (JSON.parse(readFileSync(this.file, "utf8")) as DispatchRecord)
      : { run: plan.run, submissions: [] };
  }

  private save(): void {
    writeJsonAtomic(this.file, this.record);
  }

  private slurm(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...this.o.env } });
    if (r.error) throw new Error(`${cmd}: ${r.error.message} (is slurm-client installed and SLURM_CONF set?)`);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  private name(stage: Stage, gen: number): string {
    return `d-${this.plan.run}-${stage}-g${gen}`;
  }

  /** State of every task squeue knows of this run's jobs: job id → index → state, plus job names. */
  private query(): { states: Map<string, Map<number, TaskState>>; names: Map<string, string> } {
    const out = this.slurm("squeue", ["-h", "-t", "all", "-r", "-o", "%F|%K|%j|%T"]);
    const states = new Map<string, Map<number, TaskState>>();
    const names = new Map<string, string>();
    for (const line of out.split("\n")) {
      const [job, task, name, state] = line.trim().split("|");
      if (!job || !name?.startsWith(`d-${this.plan.run}-`)) continue;
      names.set(name, job);
      const idx = /^[0-9]+$/.test(task) ? Number(task) : 0;
      if (!states.has(job)) states.set(job, new Map());
      states.get(job)!.set(idx, foldState(state));
    }
    return { states, names };
  }

  private submit(stage: Stage, gen: number, indices: number[], after: string[]): Submission {
    const name = this.name(stage, gen);
    const script = join(this.dir, `${stage}.sh`);
    writeFileAtomic(script, jobScript(this.plan, stage, this.ctx));
    const r = this.plan.resources;
    const args = [
      "--parsable",
      `--job-name=${name}`,
      `--output=${join(this.dir, "logs", `${name}-%a.out`)}`,
      `--cpus-per-task=${r.cpusPerTask}`,
      "--export=ALL",
      ...(r.memMb ? [`--mem=${r.memMb}M`] : []),
      ...(r.gpusPerTask && stage !== "merge" ? [`--gres=gpu:${r.gpusPerTask}`] : []),
      ...(r.partition ? [`--partition=${r.partition}`] : []),
      ...(r.timeMinutes ? [`--time=${r.timeMinutes}`] : []),
      ...(ARRAY_STAGES.includes(stage) ? [`--array=${indices.join(",")}`] : []),
      ...(after.length ? [`--dependency=afterok:${after.join(":")}`] : []),
      script,
    ];
    const jobId = this.slurm("sbatch", args).trim().split(";")[0];
    const sub: Submission = { stage, gen, jobId, indices, seen: {} };
    this.record.submissions.push(sub);
    this.save();
    this.o.log?.(`submitted ${name} as job ${jobId}${after.length ? ` (afterok:${after.join(":")})` : ""}`);
    return sub;
  }

  private live(stage: Stage): Submission[] {
    return this.record.submissions.filter((s) => s.stage === stage && !s.superseded);
  }

  /** Per index of a stage: its latest live submission and state. */
  private latest(stage: Stage): Map<number, { sub: Submission; state: TaskState; attempts: number }> {
    const m = new Map<number, { sub: Submission; state: TaskState; attempts: number }>();
    for (const sub of this.live(stage).sort((a, b) => a.gen - b.gen)) {
      for (const i of sub.indices)
        m.set(i, { sub, state: sub.seen[i] ?? "PENDING", attempts: (m.get(i)?.attempts ?? 0) + 1 });
    }
    return m;
  }

  /** One step of the dispatcher: adopt, observe, submit what is missing, retry what failed. */
  tick(cancel = false): LaunchStatus {
    const { states, names } = this.query();
    // adopt jobs of our names that the record lost (a crash between sbatch and the record's write)
    for (const [name, jobId] of names) {
      if (this.record.submissions.some((s) => s.jobId === jobId)) continue;
      const m = name.match(/-(squeeze|recover|gate|relabel|merge)-g([0-9]+)$/);
      if (!m) continue;
      const indices = [...states.get(jobId)!.keys()].sort((a, b) => a - b);
      this.record.submissions.push({ stage: m[1] as Stage, gen: Number(m[2]), jobId, indices, seen: {} });
      this.o.log?.(`adopted ${name} (job ${jobId}) found in squeue`);
    }
    for (const sub of this.record.submissions) {
      const known = states.get(sub.jobId);
      for (const i of sub.indices) {
        const s = known?.get(i);
        if (s) sub.seen[i] = s;
        else if (sub.seen[i] === "PENDING" || sub.seen[i] === "RUNNING" || sub.seen[i] === undefined) {
          // squeue forgot it (MinJobAge): ask sacct, else count it as failed (a rerun is harmless)
          sub.seen[i] = this.sacct(sub.jobId, i) ?? (sub.seen[i] === undefined ? "PENDING" : "FAILED");
        }
      }
    }
    this.save();
    if (cancel && !this.record.cancelled) {
      for (const sub of this.record.submissions) {
        if (Object.values(sub.seen).some((s) => s === "PENDING" || s === "RUNNING")) this.slurm("scancel", [sub.jobId]);
      }
      this.record.cancelled = true;
      this.save();
      this.o.log?.(`cancelled every job of run ${this.plan.run}`);
    }
    if (!this.record.cancelled && !this.record.failed) this.advance();
    return this.status();
  }

  private advance(): void {
    let after: string[] = [];
    const stages = planStages(this.plan);
    for (const [k, stage] of stages.entries()) {
      const width = stageWidth(this.plan, stage);
      if (this.live(stage).length === 0) {
        const gen = Math.max(-1, ...this.record.submissions.filter((s) => s.stage === stage).map((s) => s.gen)) + 1;
        const sub = this.submit(
          stage,
          gen,
          Array.from({ length: width }, (_, i) => i),
          after,
        );
        after = [sub.jobId];
        continue;
      }
      // failed shards are retried at once, not when the rest of their array ends
      const failed = [...this.latest(stage).entries()].filter(
        ([, x]) => x.state === "FAILED" || x.state === "CANCELLED",
      );
      if (failed.length) {
        const spent = failed.find(([, x]) => x.attempts > this.plan.maxRetries);
        if (spent) {
          this.record.failed = `${stage} shard ${spent[0]} failed ${spent[1].attempts} times (last job ${spent[1].sub.jobId}; log in ${join(this.dir, "logs")})`;
          this.save();
          this.o.log?.(this.record.failed);
          return;
        }
        // later stages wait on a dependency that can no longer be met: cancel and redo them
        for (const later of stages.slice(k + 1)) {
          for (const sub of this.live(later)) {
            this.slurm("scancel", [sub.jobId]);
            sub.superseded = true;
            this.o.log?.(
              `cancelled ${this.name(later, sub.gen)} (job ${sub.jobId}): it waited on a failed ${stage} shard`,
            );
          }
        }
        this.save();
        const gen = Math.max(...this.record.submissions.filter((s) => s.stage === stage).map((s) => s.gen)) + 1;
        const retry = this.submit(
          stage,
          gen,
          failed.map(([i]) => i),
          after,
        );
        this.o.log?.(`retrying ${stage} shards ${failed.map(([i]) => i).join(",")} as job ${retry.jobId}`);
      }
      // the next stage waits on this stage's unfinished shards (finished ones need no wait)
      after = waitOn(
        stage,
        [...this.latest(stage).entries()].filter(([, x]) => x.state !== "COMPLETED"),
      );
    }
  }

  private sacct(jobId: string, index: number): TaskState | undefined {
    const r = spawnSync("sacct", ["-n", "-X", "-P", "-j", `${jobId}`, "-o", "JobID,State"], {
      encoding: "utf8",
      env: { ...process.env, ...this.o.env },
    });
    if (r.status !== 0) return undefined;
    for (const line of r.stdout.split("\n")) {
      const [id, state] = line.split("|");
      if (id === jobId || id === `${jobId}_${index}`) return foldState(state);
    }
    return undefined;
  }

  status(): LaunchStatus {
    const shards: ShardStatus[] = [];
    for (const stage of planStages(this.plan)) {
      const latest = this.latest(stage);
      for (let i = 0; i < stageWidth(this.plan, stage); i++) {
        const l = latest.get(i);
        shards.push({
          stage,
          index: i,
          state: l?.state ?? "PENDING",
          attempts: l?.attempts ?? 0,
          jobId: l?.sub.jobId ?? "",
        });
      }
    }
    const state = this.record.cancelled
      ? "cancelled"
      : this.record.failed
        ? "failed"
        : shards.every((s) => s.state === "COMPLETED")
          ? "completed"
          : "running";
    return { run: this.plan.run, state, shards, message: this.record.failed };
  }
}
