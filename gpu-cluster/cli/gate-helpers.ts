// The recover gate's helper processes (--gate-workers N). The gate trains a full student on every
// candidate set, one after another in one process, and a ConvNet student gains nothing from a
// second intra-op thread on a small machine while a second process doubles the steps done
// (bench/student-step-ep.bench.ts, docs/status.md). So N − 1 helpers, each `distill gate-student`,
// train the random draws' students into the run's student cache: those need nothing from recover,
// so they start while it runs. The gate's own process trains the rest and then finds the helpers'
// students in the cache. Once every draw is taken, a helper goes on with baseline (a)'s students
// (`random-hard`: the random subset with hard labels, which needs nothing from recover either),
// so that it does not idle while the gate's process finishes; evaluate then finds them in the
// cache. Keys are content hashes and every write is atomic, so two processes never write one file
// half each; a helper writes nothing else of the run (no stages.json).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { GateCandidate } from "../../shared/gate-candidates.ts";
import { writeJsonAtomic } from "../io/atomic-write.ts";
import type { CliOptions } from "./options.ts";

/** Intra-op threads of each process where --threads is not given: an equal share of the cores. */
export function threadsPerWorker(workers: number, threads?: number): number | undefined {
  return threads ?? (workers > 1 ? Math.max(1, Math.floor(availableParallelism() / workers)) : undefined);
}

/**
 * --gate-workers resolved for `tasks` helper tasks (the random draws whose students are not in the
 * cache, and (a)'s students where evaluate follows). auto: one helper per task besides this
 * process, no more processes than cores (two on a 2-core machine: 1.48× faster at MNIST IPC 1,
 * bench/results/gate-workers.json).
 */
export function gateWorkers(option: number | "auto", tasks: number, cores = availableParallelism()): number {
  return option === "auto" ? Math.max(1, Math.min(cores, tasks + 1)) : option;
}

/** A helper's task: a random draw's gate student, or baseline (a)'s students (`random-hard`). */
export const HARD_BASELINE = "random-hard";
export type HelperTask = GateCandidate | typeof HARD_BASELINE;

/** A task's outcome, settled when its helper exits (or when the helpers are stopped before it starts). */
interface Outcome {
  promise: Promise<void>;
  settle: (error?: Error) => void;
}
const outcome = (): Outcome => {
  let settle!: (error?: Error) => void;
  const promise = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
  promise.catch(() => {}); // awaited by done() or finished(), or by nobody once stopped
  return { promise, settle };
};

export class GateHelpers {
  /** Draws no process has taken yet, in the gate's order: helpers take the first, the gate's process the last. */
  private readonly queue: GateCandidate[];
  /** Tasks only a helper takes, once the draws are gone. */
  private readonly after: HelperTask[];
  private readonly outcomes = new Map<HelperTask, Outcome>();
  private readonly children = new Set<ChildProcess>();

  /**
   * Starts `helpers` processes on `draws` (the random draws whose students are not in the cache),
   * each taking the next draw when done, then the tasks of `after`. The options go to a file in
   * `dir` (the run's gate/ folder), as do the helpers' logs. `share(n)`: n processes share the
   * cores from now on (helpers + 1 while any runs, then 1), so that sessions compiled meanwhile
   * take their share and later ones all.
   */
  constructor(
    options: CliOptions,
    runDir: string,
    draws: GateCandidate[],
    helpers: number,
    private readonly log: (msg: string) => void,
    private readonly share: (processes: number) => void = () => {},
    after: HelperTask[] = [],
  ) {
    this.queue = [...draws];
    this.after = [...after];
    for (const t of [...draws, ...after]) this.outcomes.set(t, outcome());
    const dir = join(runDir, "gate");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "options.json");
    writeJsonAtomic(file, { ...options, out: runDir, gateWorkers: helpers + 1 });
    const lane = async () => {
      for (let t = this.queue.shift() ?? this.after.shift(); t; t = this.queue.shift() ?? this.after.shift())
        await this.train(t, file, dir);
    };
    share(helpers + 1);
    void Promise.all(Array.from({ length: Math.min(helpers, draws.length + after.length) }, lane)).then(() => share(1));
  }

  /** A draw no helper has started, the gate's last first (the gate's process trains it), or undefined. */
  takeLast(): GateCandidate | undefined {
    const name = this.queue.pop();
    if (name) this.outcomes.get(name)!.settle(); // not a helper's: nothing to wait for
    return name;
  }

  /** Waits for the helpers' draws; a helper that failed fails the gate, naming its log. */
  async done(): Promise<void> {
    const draws = [...this.outcomes].filter(([t]) => t !== HARD_BASELINE).map(([, o]) => o.promise);
    const failures = (await Promise.allSettled(draws)).flatMap((r) =>
      r.status === "rejected" ? [(r.reason as Error).message] : [],
    );
    if (failures.length > 0) throw new Error(`recover gate: ${failures.join("; ")}`);
  }

  /** Whether `task` is a helper's, and then when it is done (its failure names its log). */
  finished(task: HelperTask): Promise<void> | undefined {
    return this.outcomes.get(task)?.promise;
  }

  /** Kills the helpers still training and starts no more (the run failed: nothing will wait for them). */
  stop(): void {
    for (const t of [...this.queue.splice(0), ...this.after.splice(0)])
      this.outcomes.get(t)!.settle(new Error(`the helper task ${t} was not started (the helpers were stopped)`));
    for (const c of this.children) c.kill();
    this.share(1);
  }

  private async train(task: HelperTask, optionsFile: string, dir: string): Promise<void> {
    const logFile = join(dir, `${task}.log`);
    const what = task === HARD_BASELINE ? "baseline (a)'s students" : `the student of the ${task} images`;
    this.log(`recover gate: a helper process trains ${what} (log: ${logFile})`);
    const fd = openSync(logFile, "w");
    const child = spawn(
      process.execPath,
      [
        // the CLI is TypeScript: the helper loads it as `npx tsx` does, whatever started this process
        "--import",
        pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href,
        fileURLToPath(new URL("./distill.ts", import.meta.url)),
        "gate-student",
        "--options",
        optionsFile,
        "--candidate",
        task,
      ],
      { stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    this.children.add(child);
    const code = await new Promise<number | null>((done) => {
      child.on("error", () => done(null));
      child.on("exit", (c) => done(c));
    });
    this.children.delete(child);
    if (code === 0) {
      this.log(`recover gate: the helper finished ${what}`);
      this.outcomes.get(task)!.settle();
    } else
      this.outcomes.get(task)!.settle(new Error(`the helper training ${what} failed (exit ${code}): see ${logFile}`));
  }
}
