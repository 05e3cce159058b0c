// The cross-architecture table (SRe2L's shape): synthetic MNIST sets recovered from a ConvNet-3,
// a ResNet-18 and a BN-ViT-Tiny teacher, each evaluated on ConvNet-3, ResNet-18 and ViT-Tiny
// students trained from scratch; ours next to baseline (b), a random real subset of the same size
// with the same teacher's soft labels, in every cell. One `distill run` per teacher (all students
// in it); runs that exist with the same config are skipped by the CLI, so the table resumes.
// Writes results/cross-arch.md and results/cross-arch.json.
//
//   npm run results:cross-arch [-- --ipc 10 --seed 0 --subset 500 --out runs/cross-arch -- <extra distill flags>]
//
// --subset N trains the teachers on N training images per class (an IDX folder written under
// --out from the embedded MNIST; the 10 000 test images are kept whole): the budget knob for a
// small machine, stated in the table.
// Extra flags after `--` go to every run (budgets: --teacher-epochs, --epochs, --iterations,
// --teacher-width, --student-width); the table states the command it was made with.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { parseReport, type Report } from "../gpu-cluster/cli/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { readIdx } from "../gpu-cluster/data/idx.ts";
import { embeddedMnistDir } from "../gpu-cluster/data/mnist.ts";
import { machine, typedCommand } from "./provenance.ts";
import { int } from "../gpu-cluster/cli/number-args.ts";

const TEACHERS = ["convnet-3", "resnet18", "bn-vit-tiny"];
const STUDENTS = ["convnet-3", "resnet18", "vit-tiny"];

const program = new Command("cross-arch-table")
  .option("--ipc <n>", "images per class", int("--ipc", 1), 10)
  .option("--seed <s>", "seed of every run", int("--seed"), 0)
  .option("--subset <n>", "training images per class (default: all of MNIST's)", int("--subset", 1))
  .option("--out <dir>", "folder of the runs", "runs/cross-arch")
  .option("--results <dir>", "where the table goes", "results")
  .option("--render-only", "no runs: the table from the reports already under --out (missing rows marked)")
  .allowExcessArguments(true)
  .parse();
const o = program.opts<{
  ipc: number;
  seed: number;
  subset?: number;
  out: string;
  results: string;
  renderOnly?: boolean;
}>();
const extra = program.args;

/** MNIST with the first `perClass` training images of each class, as an IDX folder. */
function mnistSubset(perClass: number): string {
  const dir = join(o.out, `mnist-${perClass}-per-class`);
  const src = embeddedMnistDir();
  const images = readIdx(join(src, "train-images-idx3-ubyte"));
  const labels = readIdx(join(src, "train-labels-idx1-ubyte"));
  const [, h, w] = images.dims;
  const taken = new Map<number, number>();
  const keep: number[] = [];
  labels.data.forEach((c, i) => {
    const n = taken.get(Number(c)) ?? 0;
    if (n < perClass) keep.push(i);
    taken.set(Number(c), n + 1);
  });
  const idx = (magic: number, dims: number[], body: Uint8Array) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, body]);
  };
  const px = new Uint8Array(keep.length * h * w);
  keep.forEach((i, k) => px.set((images.data as Uint8Array).subarray(i * h * w, (i + 1) * h * w), k * h * w));
  const lb = Uint8Array.from(keep.map((i) => Number(labels.data[i])));
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, "train-images-idx3-ubyte"), idx(0x803, [keep.length, h, w], px));
  writeFileAtomic(join(dir, "train-labels-idx1-ubyte"), idx(0x801, [keep.length], lb));
  for (const f of ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) copyFileSync(join(src, f), join(dir, f));
  return dir;
}
const data = o.subset && !o.renderOnly ? ["--data", mnistSubset(o.subset)] : [];

const distill = fileURLToPath(new URL("../gpu-cluster/cli/distill.ts", import.meta.url));
const reports: Record<string, Report> = {};
const started = Date.now();
for (const teacher of TEACHERS) {
  const dir = join(o.out, `${teacher}-ipc${o.ipc}-seed${o.seed}`);
  if (!o.renderOnly) {
    const args = ["run", "--teacher-arch", teacher, "--students", STUDENTS.join(","), "--ipc", `${o.ipc}`];
    args.push("--seed", `${o.seed}`, "--out", dir, "--quiet", ...data, ...extra);
    console.error(`$ distill ${args.join(" ")}`);
    execFileSync(process.execPath, [...process.execArgv, distill, ...args], { stdio: ["ignore", "ignore", "inherit"] });
  }
  const file = join(dir, "report.json");
  if (existsSync(file)) reports[teacher] = parseReport(JSON.parse(readFileSync(file, "utf8")));
}

const pct = (x: number | undefined) => (x === undefined ? "–" : (100 * x).toFixed(2));
const lines = [
  "# Cross-architecture generalisation on MNIST",
  "",
  `Generated by \`${typedCommand(process.argv, process.env, "results:cross-arch")}\``,
  `on ${machine()}, ${new Date().toISOString().slice(0, 10)}, ` +
    (o.renderOnly
      ? "rendered from the run folders (stage times: each report.json)."
      : `${((Date.now() - started) / 60000).toFixed(0)} min (runs already there are reused).`),
  "",
  `MNIST${o.subset ? ` with ${o.subset} training images per class (teachers and baselines draw from these)` : ""}, ` +
    `IPC ${o.ipc}, seed ${o.seed}. Each cell: top-1 (%) of the student on the 10 000 test images, trained on ours ` +
    "(recovered from that teacher, relabelled by it) / on (b) (a random real subset of the same size with the same " +
    "teacher's soft labels), and ours − (b) in points.",
  "",
  `| teacher (its top-1) | ${STUDENTS.map((s) => `${s} student: ours / (b), Δ`).join(" | ")} |`,
  `| --- | ${STUDENTS.map(() => "--:").join(" | ")} |`,
];
for (const t of TEACHERS) {
  const r = reports[t];
  if (!r) {
    lines.push(`| ${t} | ${STUDENTS.map(() => "not run").join(" | ")} |`);
    continue;
  }
  const cells = STUDENTS.map((s) => {
    const c = r.students[s];
    const d = c.random_soft === undefined ? "" : `, ${(100 * (c.distilled - c.random_soft)).toFixed(2)}`;
    return `${pct(c.distilled)} / ${pct(c.random_soft)}${d}`;
  });
  lines.push(`| ${t} (${pct(r.teacher_accuracy)}) | ${cells.join(" | ")} |`);
}
writeFileAtomic(join(o.results, "cross-arch.md"), lines.join("\n") + "\n");
writeJsonAtomic(join(o.results, "cross-arch.json"), { ipc: o.ipc, seed: o.seed, extra, reports });
console.log(lines.join("\n"));
