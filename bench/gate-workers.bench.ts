// --gate-workers: the wall time of `distill recover` (the recover gate's students are most of it at
// IPC 1) or of the whole `distill run` (--stage run: the helpers also train baseline (a)'s
// students) with W processes side by side, W = 1, 2, … in turn, each from a copy of one squeezed
// run folder (same teacher, seed and options; no --threads, so each process takes its share of
// the cores, as a user's run does). Also says whether every W kept the same set with the same
// scores (and, for a run, the same top-1 of ours, (a) and (b)). Prints a table and writes
// bench/results/gate-workers.json (gate-workers-run.json for a run; or --out FILE). Run it on an
// otherwise idle machine: the point is how the cores are shared.
//
//   npx tsx bench/gate-workers.bench.ts [--stage recover|run] [--workers 1,2] [--epochs 3000] [--ipc 1] [--teacher FILE]
//
// Without --teacher a one-epoch teacher is squeezed first (not timed). --epochs shortens every
// student alike (the default IPC 1 run trains 60 000): the gate's shape, seven students of which
// five need nothing from recover, is the same.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { int, intList } from "../gpu-cluster/cli/number-args.ts";
import { machine } from "../scripts/provenance.ts";

const o = new Command("gate-workers")
  .option("--workers <list>", "values of --gate-workers, in turn", intList("--workers", 1), [1, 2])
  .option("--epochs <n>", "student epochs (the gate's students and relabels)", int("--epochs", 1), 3000)
  .option("--ipc <n>", "images per class", int("--ipc", 1), 1)
  .option("--teacher <file.onnx>", "teacher to import (default: a one-epoch squeeze)")
  .option("--root <dir>", "run folders", join("test-output", "bench-gate-workers"))
  .addOption(new Option("--stage <name>", "what is timed").choices(["recover", "run"]).default("recover"))
  .option(
    "--out <file>",
    "JSON results (default: bench/results/gate-workers.json, gate-workers-run.json for --stage run)",
  )
  .parse()
  .opts<{
    workers: number[];
    epochs: number;
    ipc: number;
    teacher?: string;
    root: string;
    stage: string;
    out?: string;
  }>();
const out = o.out ?? `bench/results/gate-workers${o.stage === "run" ? "-run" : ""}.json`;

const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
function distill(args: string[]): void {
  const r = spawnSync(tsx, ["gpu-cluster/cli/distill.ts", ...args], { stdio: ["ignore", "inherit", "pipe"] });
  if (r.status !== 0) throw new Error(`distill ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
}

const common = ["--ipc", String(o.ipc), "--seed", "0", "--epochs", String(o.epochs), "--quiet"];
const teacher = o.teacher ? ["--teacher", o.teacher] : ["--teacher-epochs", "1"];
const base = join(o.root, "base");
rmSync(o.root, { recursive: true, force: true });
distill(["squeeze", ...common, ...teacher, "--out", base]);

const rows: {
  workers: number;
  seconds: number;
  kept: string;
  scores: Record<string, number>;
  students?: Record<string, unknown>;
}[] = [];
for (const w of o.workers) {
  const dir = join(o.root, `w${w}`);
  cpSync(base, dir, { recursive: true });
  const t0 = performance.now();
  distill([o.stage, ...common, ...teacher, "--out", dir, "--gate-workers", String(w)]);
  const seconds = (performance.now() - t0) / 1000;
  const gate = JSON.parse(readFileSync(join(dir, "recover.json"), "utf8")).gate;
  const students = o.stage === "run" ? JSON.parse(readFileSync(join(dir, "report.json"), "utf8")).students : undefined;
  rows.push({ workers: w, seconds, kept: gate.kept, scores: gate.scores, students });
  console.log(
    `--gate-workers ${w}: ${o.stage} ${seconds.toFixed(0)} s (${(rows[0].seconds / seconds).toFixed(2)}× the first), kept ${gate.kept}`,
  );
}
const same = rows.every(
  (r) =>
    r.kept === rows[0].kept &&
    JSON.stringify(r.scores) === JSON.stringify(rows[0].scores) &&
    JSON.stringify(r.students) === JSON.stringify(rows[0].students),
);
console.log(
  same
    ? `every W kept the same set with the same scores${o.stage === "run" ? " and top-1s" : ""}`
    : "the W differ in the set kept, its scores or the top-1s (thread counts differ: see the JSON)",
);
writeJsonAtomic(out, { machine: machine(), date: new Date().toISOString(), options: o, same, rows });
