// The MNIST results table of the README: one teacher squeezed once (seed 0), then `distill run`
// for IPC 1, 10 and 50 × seeds 0, 1, 2 with the CLI's defaults, and the mean ± std of every
// column over the seeds. Runs that already exist with the same config are skipped by the CLI,
// so an interrupted table resumes. Writes results/mnist.md and results/mnist.json.
// Usage: npm run results:mnist [-- --ipc 1,10 --seeds 0,1 --out runs/mnist-table -- <extra distill flags>]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { parseReport, type Report } from "../gpu-cluster/cli/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";

const ints = (s: string) => s.split(",").map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 0) throw new Error(`'${s}' is not a comma-separated list of integers`);
  return n;
});

const program = new Command("mnist-table")
  .option("--ipc <list>", "IPC values", ints, [1, 10, 50])
  .option("--seeds <list>", "seeds of each IPC", ints, [0, 1, 2])
  .option("--out <dir>", "folder of the teacher and the runs", "runs/mnist-table")
  .option("--results <dir>", "where the table goes", "results")
  .allowExcessArguments(true)
  .parse();
const o = program.opts<{ ipc: number[]; seeds: number[]; out: string; results: string }>();
const extra = program.args;

const distill = fileURLToPath(new URL("../gpu-cluster/cli/distill.ts", import.meta.url));
function run(args: string[]): void {
  console.error(`$ distill ${args.join(" ")}`);
  execFileSync(process.execPath, [...process.execArgv, distill, ...args], { stdio: ["ignore", "ignore", "inherit"] });
}

const teacherDir = join(o.out, "teacher");
run(["squeeze", "--out", teacherDir, "--seed", "0", "--quiet"]);
const teacher = join(teacherDir, "teacher.onnx");

const reports: Report[] = [];
for (const ipc of o.ipc) {
  for (const seed of o.seeds) {
    const dir = join(o.out, `ipc${ipc}-seed${seed}`);
    run(["run", "--teacher", teacher, "--ipc", String(ipc), "--seed", String(seed), "--out", dir, "--quiet", ...extra]);
    reports.push(parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const cell = (xs: number[]) => `${(100 * mean(xs)).toFixed(2)} ± ${(100 * std(xs)).toFixed(2)}`;

const rows: Record<string, unknown>[] = [];
const lines = [
  "| IPC | student | distilled (ours) | (a) random real, hard | (b) random real, soft | ours − (b) | seeds |",
  "|---:|---|---:|---:|---:|---:|---|",
];
for (const ipc of o.ipc) {
  const rs = reports.filter((r) => r.ipc === ipc);
  for (const arch of Object.keys(rs[0].students)) {
    const col = (k: "distilled" | "random_hard" | "random_soft") => rs.map((r) => r.students[arch][k]);
    const gap = rs.map((r) => r.students[arch].distilled - r.students[arch].random_soft);
    lines.push(`| ${ipc} | ${arch} | ${cell(col("distilled"))} | ${cell(col("random_hard"))} | ${cell(col("random_soft"))} | ` +
      `${mean(gap) > 0 ? "+" : ""}${cell(gap)} pt (ahead in ${gap.filter((g) => g > 0).length}/${gap.length}) | ${rs.map((r) => r.seed).join(", ")} |`);
    rows.push({ ipc, student: arch, seeds: rs.map((r) => r.seed), distilled: col("distilled"), random_hard: col("random_hard"), random_soft: col("random_soft") });
  }
}
const teacherAcc = reports[0].teacher_accuracy;
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}`;
const command = ["npm run results:mnist --", ...process.argv.slice(2)].join(" ").replace(/ --$/, "");
const md = [
  `Teacher: ${reports[0].teacher.arch}, ${(100 * teacherAcc).toFixed(2)} % on the MNIST test set (baseline c). ` +
    `Top-1 (%) on the 10 000 test images, mean ± std over seeds; produced by \`${command}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.`,
  "",
  ...lines,
  "",
].join("\n");
mkdirSync(o.results, { recursive: true });
writeFileAtomic(join(o.results, "mnist.md"), md);
writeJsonAtomic(join(o.results, "mnist.json"), { command, machine, date: new Date().toISOString(), teacher_accuracy: teacherAcc, extra, rows });
process.stdout.write(md);
