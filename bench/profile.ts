// Where a training step's time goes: runs one engine-benchmark case with ORT's profiler on and
// prints the time per op type and the slowest nodes (mean per run, the warm-up run left out).
//   npx tsx bench/profile.ts resnet18 squeeze [--runs 3] [--top 25]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { buildCase, CASES, STEPS, type Step } from "./engine-cases.ts";

const count = (flag: string) => (s: string) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1`);
  return n;
};
const cli = new Command("profile")
  .argument("<model>", `one of ${Object.keys(CASES).join(", ")}`)
  .argument("<step>", `one of ${STEPS.join(", ")}`)
  .option("--runs <n>", "profiled runs after one warm-up", count("--runs"), 3)
  .option("--top <n>", "slowest nodes to list", count("--top"), 25)
  .parse();
const [model, step] = cli.args as [string, Step];
const o = cli.opts<{ runs: number; top: number }>();

interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}
const dir = mkdtempSync(join(tmpdir(), "distill-profile-"));
let events: TraceEvent[];
try {
  const { program, body } = await buildCase(model, step, { profilePrefix: join(dir, "ort") });
  await body();
  for (let i = 0; i < o.runs; i++) await body();
  program.session.endProfiling();
  await program.release();
  const trace = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (trace.length === 0) throw new Error(`ORT wrote no profile under ${dir}`);
  events = JSON.parse(readFileSync(join(dir, trace[0]), "utf8")) as TraceEvent[];
} finally {
  rmSync(dir, { recursive: true, force: true }); // the trace is read into memory; nothing left behind
}

const runEvents = events.filter((e) => e.cat === "Session" && e.name === "model_run");
const warmUpEnd = runEvents[0].ts + runEvents[0].dur;
const runs = runEvents.slice(1).map((e) => e.dur);
const nodes = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.ts >= warmUpEnd);
const perRun = o.runs;
const byType = new Map<string, number>();
const byNode = new Map<string, { op: string; us: number }>();
for (const e of nodes) {
  const op = e.args?.op_name ?? "?";
  byType.set(op, (byType.get(op) ?? 0) + e.dur / perRun);
  const name = e.name.replace(/_kernel_time$/, "");
  const n = byNode.get(name) ?? { op, us: 0 };
  n.us += e.dur / perRun;
  byNode.set(name, n);
}
const total = [...byType.values()].reduce((a, b) => a + b, 0);
const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
console.log(
  `${model} ${step}: model_run ${runs.map((r) => (r / 1000).toFixed(0)).join(", ")} ms; node kernels ${ms(total)} ms per run\n`,
);
console.log("op type                     ms/run   share");
for (const [op, us] of [...byType].sort((a, b) => b[1] - a[1])) {
  console.log(`${op.padEnd(24)} ${ms(us)}  ${((100 * us) / total).toFixed(1).padStart(5)} %`);
}
console.log(`\nslowest ${o.top} nodes`);
for (const [name, n] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, o.top)) {
  console.log(`${ms(n.us)} ms  ${n.op.padEnd(20)} ${name}`);
}
