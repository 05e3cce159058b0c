// The recover gate's helper processes (--gate-workers N). The gate trains a full student on every
// candidate set, one after another in one process, and a ConvNet student gains nothing from a
// second intra-op thread on a small machine while a second process doubles the steps done
// (bench/student-step-ep.bench.ts, docs/status.md). So N − 1 helpers, each `distill gate-student`,
// train the random draws' students into the run's student cache: those need nothing from recover,
// so they start while it runs. The gate's own process trains the rest and then finds the helpers'
// students in the cache. Keys are content hashes and every write is atomic, so two processes never
// write one file half each; a helper writes nothing else of the run (no stages.json).
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
 * --gate-workers resolved for `drawsToTrain` random draws whose students are not in the cache.
 * auto: one process per draw besides this one, no more processes than cores (two on a 2-core
 * machine: 1.48× faster at MNIST IPC 1, bench/results/gate-workers.json).
 */
export function gateWorkers(option: number | "auto", drawsToTrain: number, cores = availableParallelism()): number {
  return option === "auto" ? Math.max(1, Math.min(cores, drawsToTrain + 1)) : option;
}

export class GateHelpers {
  /** Draws no process has taken yet, in the gate's order: helpers take the first, the gate's process the last. */
  private readonly queue: GateCandidate[];
  private readonly children = new Set<ChildProcess>();
  private readonly failures: string[] = [];
  private readonly lanes: Promise<void>;

  /**
   * Starts `helpers` processes on `draws` (the random draws whose students are not in the cache),
   * each taking the next draw when done. The options go to a file in `dir` (the run's gate/ folder),
   * as do the helpers' logs. `share(n)`: n processes share the cores from now on (helpers + 1 while
   * any runs, then 1), so that sessions compiled meanwhile take their share and later ones all.
   */
  constructor(
    options: CliOptions,
    runDir: string,
    draws: GateCandidate[],
    helpers: number,
    private readonly log: (msg: string) => void,
    private readonly share: (processes: number) => void = () => {},
  ) {
    this.queue = [...draws];
    const dir = join(runDir, "gate");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "options.json");
    writeJsonAtomic(file, { ...options, out: runDir, gateWorkers: helpers + 1 });
    const lane = async () => {
      for (let name = this.queue.shift(); name; name = this.queue.shift()) await this.train(name, file, dir);
    };
    share(helpers + 1);
    this.lanes = Promise.all(Array.from({ length: Math.min(helpers, draws.length) }, lane)).then(() => share(1));
  }

  /** A draw no helper has started, the gate's last first (the gate's process trains it), or undefined. */
  takeLast(): GateCandidate | undefined {
    return this.queue.pop();
  }

  /** Waits for every helper; a helper that failed fails the gate, naming its log. */
  async done(): Promise<void> {
    await this.lanes;
    if (this.failures.length > 0) throw new Error(`recover gate: ${this.failures.join("; ")}`);
  }

  /** Kills the helpers still training and starts no more (the gate's process failed: nothing will wait for them). */
  stop(): void {
    this.queue.length = 0;
    for (const c of this.children) c.kill();
    this.share(1);
  }

  private async train(name: GateCandidate, optionsFile: string, dir: string): Promise<void> {
    const logFile = join(dir, `${name}.log`);
    this.log(`recover gate: a helper process trains the student of the ${name} images (log: ${logFile})`);
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
        name,
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
    if (code === 0) this.log(`recover gate: the helper finished the student of the ${name} images`);
    else
      this.failures.push(`the helper training the student of the ${name} images failed (exit ${code}): see ${logFile}`);
  }
}
