// The label budget, measured: student accuracy against the bytes of soft labels stored, on one
// distilled set (MNIST IPC 10 by default). The set is recovered once (with the recover gate, as a
// default run); each variant copies it and runs only relabel + evaluate (not `run`: recover's
// config holds the gate's label settings, so `run` would redo the gate per variant) with one of: top-k 1/2/3/5/10 × u8/f16 over every student epoch, and top-10 u8 with
// fewer labelled epochs reused in turn (--label-epochs: LPLD-style label reuse); a variant may add
// HALD's hard-label phase to the student (h<percent>: --student-hard-phase). --baselines adds
// baseline (b) on each row's label settings: do the images matter more when labels are few?
// Writes results/label-budget.{md,json,png} (--name: another base name).
// Usage: npm run results:label-budget [-- --ipc 10 --seed 0 --teacher T.onnx --out runs/label-budget -- <distill flags>]
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { parseReport, type Report } from "../gpu-cluster/cli/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { writeLineChartPng } from "../gpu-cluster/io/plot.ts";
import { percent, signedPercent } from "../gpu-cluster/cli/summary-stats.ts";
import { machine, typedCommand } from "./provenance.ts";

const program = new Command("label-budget")
  .option("--ipc <n>", "images per class", (s) => Number(s), 10)
  .option("--seed <s>", "seed of the run", (s) => Number(s), 0)
  .option("--out <dir>", "folder of the teacher and the runs", "runs/label-budget")
  .option("--results <dir>", "where the table goes", "results")
  .option("--name <base>", "file names of the table, its JSON and plot", "label-budget")
  .option("--teacher <file.onnx>", "use this teacher instead of squeezing one (seed 0, defaults)")
  .option(
    "--variants <list>",
    "label settings, each top-k + quant [+ e<labelled epochs>] [+ h<percent of student epochs on hard labels>], run in this order",
    "10u8,1u8,2u8,10f16,10u8e15,10u8e150,3u8,5u8,1f16,2f16,3f16,5f16",
  )
  .option(
    "--baselines",
    "also train baseline (b), the random real subset, on each row's labels (a column and a series)",
  )
  .allowExcessArguments(true)
  .parse();
const o = program.opts<{
  ipc: number;
  seed: number;
  out: string;
  results: string;
  name: string;
  teacher?: string;
  variants: string;
  baselines?: boolean;
}>();
const extra = program.args;

const distill = fileURLToPath(new URL("../gpu-cluster/cli/distill.ts", import.meta.url));
function run(args: string[]): void {
  console.error(`$ distill ${args.join(" ")}`);
  execFileSync(process.execPath, [...process.execArgv, distill, ...args], { stdio: ["ignore", "ignore", "inherit"] });
}

const teacher = o.teacher ?? join(o.out, "teacher", "teacher.onnx");
if (!o.teacher) run(["squeeze", "--out", join(o.out, "teacher"), "--seed", "0", "--quiet"]);
const common = ["--teacher", teacher, "--ipc", String(o.ipc), "--seed", String(o.seed), "--quiet"];
if (!o.baselines) common.push("--no-baselines");

// Recover once; every variant starts from a copy of this folder (its recover stage is then fresh).
const base = join(o.out, "recovered");
for (const stage of ["squeeze", "recover"]) run([stage, ...common, "--out", base, ...extra]);

interface Variant {
  topK: number;
  quant: "u8" | "f16";
  labelEpochs?: number;
  /** Percent of the student's epochs on hard labels (HALD); absent: none. */
  hardPhase?: number;
}
const variants: Variant[] = o.variants.split(",").map((v) => {
  const m = /^(\d+)(u8|f16)(?:e(\d+))?(?:h(\d+))?$/.exec(v);
  if (!m || Number(m[4]) >= 100)
    throw new Error(
      `--variants: '${v}' is not <top-k><u8|f16>[e<labelled epochs>][h<percent under 100>], e.g. 10u8, 2f16e150 or 10u8e60h50`,
    );
  return {
    topK: Number(m[1]),
    quant: m[2] as "u8" | "f16",
    labelEpochs: m[3] ? Number(m[3]) : undefined,
    hardPhase: m[4] ? Number(m[4]) : undefined,
  };
});
const nameOf = (v: Variant) =>
  `top${v.topK}-${v.quant}${v.labelEpochs ? `-e${v.labelEpochs}` : ""}${v.hardPhase ? `-h${v.hardPhase}` : ""}`;

const rows: { variant: Variant; report: Report }[] = [];
for (const v of variants) {
  const dir = join(o.out, nameOf(v));
  if (!existsSync(join(dir, "stages.json"))) {
    mkdirSync(dir, { recursive: true });
    for (const f of ["teacher.onnx", "images.npy", "images", "recover.json", "stages.json", "grid.png", "students"])
      if (existsSync(join(base, f))) cpSync(join(base, f), join(dir, f), { recursive: true });
  }
  const flags = ["--top-k", String(v.topK), "--quant", v.quant];
  if (v.labelEpochs) flags.push("--label-epochs", String(v.labelEpochs));
  if (v.hardPhase) flags.push("--student-hard-phase", String(v.hardPhase / 100));
  for (const stage of ["relabel", "evaluate"]) run([stage, ...common, "--out", dir, ...flags, ...extra]);
  rows.push({ variant: v, report: parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))) });
}

const student = Object.keys(rows[0].report.students)[0];
const table = rows.map(({ variant, report }) => {
  const lt = report.label_table;
  const crops = lt.epochs * report.images;
  return {
    ...variant,
    labelEpochs: lt.epochs,
    bytesPerCrop: lt.bytes / crops,
    bytesPerImage: lt.bytes / report.images,
    tableBytes: lt.bytes,
    fp32Bytes: lt.fp32_bytes,
    accuracy: report.students[student].distilled,
    /** Baseline (b) on the same label settings (--baselines). */
    randomSoft: report.students[student].random_soft,
    studentEpochs: report.student_epochs,
  };
});
// Every row trains its students alike; reports written before 2026-12-03 did not record how long.
const recorded = rows.map((r) => r.report.student_epochs);
const studentEpochs = recorded.every((e) => e !== undefined)
  ? `${[...new Set(recorded)].join(" / ")} student epochs`
  : "student epochs not recorded by these runs";
const full = table[0]; // the reference row: the first variant (the default, top-10 u8, unless told otherwise)
const command = typedCommand(process.argv, process.env, "results:label-budget");
const host = machine();
const hald = table.some((r) => r.hardPhase);
const withB = table.some((r) => r.randomSoft !== undefined);
const kib = (b: number) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const md = [
  `# Label budget: ${rows[0].report.dataset} IPC ${o.ipc}, ${student} student, seed ${o.seed}`,
  "",
  `One recovered set, relabelled and evaluated once per row (${rows[0].report.teacher.arch} teacher, ` +
    `${(100 * rows[0].report.teacher_accuracy).toFixed(2)} %; ${studentEpochs}). Top-1 on the 10 000 test ` +
    `images; one seed, so differences under about 0.1 pt are noise. Produced by \`${command}\` on ${host}, ` +
    `${new Date().toISOString().slice(0, 10)}.`,
  "",
  ...(hald
    ? [
        "Hard phase: the middle share of the student's epochs trained on the images' own classes (HALD, `--student-hard-phase`; Cui et al., arXiv 2512.15647).",
        "",
      ]
    : []),
  ...(withB
    ? [
        "(b): the run's random real subset, relabelled under the row's settings with as many labelled crops as ours (its images' labelled epochs scaled by ours / its image count), the same student recipe.",
        "",
      ]
    : []),
  `| top-k | quant | labelled epochs |${hald ? " hard phase |" : ""} bytes / crop | label bytes / image | table | of fp32 (same crops) | top-1 (%) | vs first row (pt) |${withB ? " (b) top-1 (%) | ours − (b) (pt) |" : ""}`,
  `|---:|---|---:|${hald ? "---:|" : ""}---:|---:|---:|---:|---:|---:|${withB ? "---:|---:|" : ""}`,
  ...table.map(
    (r) =>
      `| ${r.topK} | ${r.quant} | ${r.labelEpochs} |${hald ? ` ${r.hardPhase ? `${r.hardPhase} %` : "–"} |` : ""} ${r.bytesPerCrop.toFixed(1)} | ${kib(r.bytesPerImage)} | ${kib(r.tableBytes)} | ` +
      `${((100 * r.tableBytes) / r.fp32Bytes).toFixed(0)} % | ${percent(r.accuracy)} | ${signedPercent(r.accuracy - full.accuracy)} |` +
      (withB
        ? ` ${r.randomSoft === undefined ? "–" : `${percent(r.randomSoft)} | ${signedPercent(r.accuracy - r.randomSoft)}`} |`
        : ""),
  ),
  "",
  `![accuracy vs label bytes](${o.name}.png)`,
  "",
].join("\n");
mkdirSync(o.results, { recursive: true });
writeFileAtomic(join(o.results, `${o.name}.md`), md);
writeJsonAtomic(join(o.results, `${o.name}.json`), { command, machine: host, rows: table });
type Row = (typeof table)[number];
// (b)'s points sit at its row's x: the same label settings, over the random real images
const series = (name: string, pick: (r: Row) => boolean, y: (r: Row) => number | undefined = (r) => r.accuracy) => ({
  name,
  points: table
    .filter(pick)
    .flatMap((r) => (y(r) === undefined ? [] : [{ x: r.bytesPerImage, y: 100 * y(r)! }]))
    .sort((a, b) => a.x - b.x),
});
// a row labels every epoch when its labelled epochs are its student's (reports before 2026-12-03: the most of any row)
const mostLabelled = Math.max(...table.map((r) => r.labelEpochs));
const everyEpoch = (r: Row) => r.labelEpochs === (r.studentEpochs ?? mostLabelled);
await writeLineChartPng(join(o.results, `${o.name}.png`), {
  title: `${rows[0].report.dataset} IPC ${o.ipc}: top-1 vs label bytes stored per image (${student}, seed ${o.seed})`,
  x: { label: "label bytes per synthetic image (all epochs)", log: true },
  y: { label: "top-1 on the test set (%)" },
  series: [
    series("u8, top-k 1…10, every epoch", (r) => !r.hardPhase && r.quant === "u8" && everyEpoch(r)),
    series("f16, top-k 1…10, every epoch", (r) => !r.hardPhase && r.quant === "f16" && everyEpoch(r)),
    series("u8 top-10, fewer labelled epochs reused", (r) => !r.hardPhase && r.topK === 10 && r.quant === "u8"),
    ...[...new Set(table.flatMap((r) => (r.hardPhase ? [r.hardPhase] : [])))].map((h) =>
      series(`u8 top-10, hard phase ${h} % (HALD)`, (r) => r.hardPhase === h && r.topK === 10 && r.quant === "u8"),
    ),
    series(
      "(b): random real images, same labels",
      (r) => !r.hardPhase && r.topK === 10 && r.quant === "u8",
      (r) => r.randomSoft,
    ),
  ].filter((s) => s.points.length > 0),
});
console.log(md);
