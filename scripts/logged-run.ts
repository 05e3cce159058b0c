// A child process of a long script (a results table's `distill` runs, several at a time): its
// stderr goes whole to a log file of its own (progress bars included), and the script's stderr
// gets its log lines — what the run decided — prefixed with the run's name, so that interleaved
// jobs stay readable, plus each job's latest bar once per heartbeat, so that hours of runs show
// progress without a bar line every few seconds per job.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

/** A progress-bar line of gpu-cluster/cli/progress.ts ("label |████░░| 3/10 …"). */
const BAR = /\|[█░]+\|/;

export interface LoggedRun {
  /** Shown before each forwarded line ("ipc10-seed0"). */
  name: string;
  /** The file the child's whole stderr is appended to. */
  log: string;
  /** Seconds between the reports of the latest bar (0: none). */
  heartbeat: number;
  out?: NodeJS.WritableStream;
}

/** Runs `command args`; resolves when it exits 0, rejects naming the command and its log otherwise. */
export function loggedRun(command: string, args: string[], o: LoggedRun): Promise<void> {
  const out = o.out ?? process.stderr;
  const file = createWriteStream(o.log, { flags: "a" });
  let partial = "";
  let bar: string | undefined;
  const line = (l: string) => {
    if (BAR.test(l)) bar = l.trim();
    else if (l.trim()) {
      out.write(`[${o.name}] ${l}\n`);
      bar = undefined; // a bar before a later decision is stale: a heartbeat must not show it after it
    }
  };
  const heartbeat =
    o.heartbeat > 0
      ? setInterval(() => {
          if (bar) out.write(`[${o.name}] ${bar}\n`);
          bar = undefined;
        }, o.heartbeat * 1000)
      : undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (chunk: Buffer) => {
      file.write(chunk);
      const lines = (partial + chunk.toString("utf8")).split(/[\r\n]/);
      partial = lines.pop()!;
      lines.forEach(line);
    });
    // the heartbeat stops and the log is flushed whichever way the child ends
    let ended = false;
    const finish = (error?: Error) => {
      if (ended) return; // a child that failed to start may report both
      ended = true;
      line(partial);
      clearInterval(heartbeat);
      file.end(() => (error ? reject(error) : resolve()));
    };
    child
      .on("error", finish)
      .on("close", (code) =>
        finish(code === 0 ? undefined : new Error(`${command} ${args.join(" ")}: exit ${code} (its log: ${o.log})`)),
      );
  });
}
