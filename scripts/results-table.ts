// A results table (README's MNIST one, and the held-out Fashion-MNIST one): one teacher squeezed
// once (seed 0), then `distill run` for IPC 1, 10 and 50 × seeds 0, 1, 2 with the CLI's defaults,
// the mean ± std of every column over the seeds, and the published records next to ours. Runs
// that already exist with the same config are skipped by the CLI, so an interrupted table
// resumes. Writes results/<name>.md, .json and .png (the plot when two or more IPCs finished).
// --merge takes in the rows of earlier tables' JSON (IPCs run in another session or machine), each
// row keeping the command that produced it; `FILE:1+50` takes only those IPCs of a file (an IPC
// rerun here, or one another file holds, is left out).
// Usage: npm run results:mnist [-- --ipc 1,10 --seeds 0,1 --out runs/mnist-table --teacher T.onnx --jobs 2 -- <extra distill flags>]
// (--jobs 2 -- --threads 1 on 2 cores: two runs at a time, each on one core; each run's whole output,
// progress bars included, goes to <run folder>.log, the table shows its decisions and, every
// --heartbeat seconds, its latest bar)
//        npm run results:fashion-mnist (the same with --data /usr/share/datasets/fashion-mnist)
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { parseReport, type Report } from "../gpu-cluster/cli/report.ts";
import { mean, percent, populationSd as std } from "../gpu-cluster/cli/summary-stats.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { writeLineChartPng } from "../gpu-cluster/io/plot.ts";
import { PUBLISHED_RECORDS } from "./published-records.ts";
import { loggedRun } from "./logged-run.ts";
import { int, intList, nonNegative } from "../gpu-cluster/cli/number-args.ts";
import { machine, typedCommand } from "./provenance.ts";
import { mergeRows, readStoredRows, rowsFromReports, type RowSource } from "./results-rows.ts";

const program = new Command("results-table")
  .option("--data <path>", "dataset folder (default: the embedded MNIST)")
  .option("--name <stem>", "name of the table's files (results/<stem>.md, .json, .png)", "mnist")
  .addOption(
    new Option("--records <set>", "published records shown next to ours")
      .choices(Object.keys(PUBLISHED_RECORDS))
      .default("mnist"),
  )
  .option("--ipc <list>", "IPC values", intList("--ipc", 1), [1, 10, 50])
  .option("--seeds <list>", "seeds of each IPC", intList("--seeds", 0), [0, 1, 2])
  .option("--out <dir>", "folder of the teacher and the runs (default: runs/<stem>-table)")
  .option("--results <dir>", "where the table goes", "results")
  .option("--teacher <file.onnx>", "use this teacher instead of squeezing one (seed 0, defaults)")
  .option(
    "--jobs <n>",
    "runs at a time, each its own process (give each fewer threads: -- --threads N)",
    int("--jobs", 1),
    1,
  )
  .option(
    "--heartbeat <seconds>",
    "how often each running job's latest progress bar is shown, 0: never (every line of it is in <run folder>.log)",
    nonNegative("--heartbeat"),
    120,
  )
  .option("--report-only", "run nothing: tabulate the runs that have finished (a table with missing seeds says so)")
  .option(
    "--merge <files>",
    "also take in the rows of earlier tables (comma-separated .json files of this script; same dataset and teacher, other IPCs); FILE:1+50 takes only those IPCs of FILE",
    (s: string) => s.split(",").filter(Boolean),
    [] as string[],
  )
  .allowExcessArguments(true)
  .parse();
const opts = program.opts<{
  data?: string;
  name: string;
  records: string;
  ipc: number[];
  seeds: number[];
  out?: string;
  results: string;
  teacher?: string;
  reportOnly?: boolean;
  merge: string[];
  jobs: number;
  heartbeat: number;
}>();
const o = { ...opts, out: opts.out ?? join("runs", `${opts.name}-table`) };
const ANCHORS = PUBLISHED_RECORDS[o.records];
const data = o.data ? ["--data", o.data] : [];
const extra = program.args;
// the merged tables are read before any run, so that a bad file is refused before the teacher and hours of runs
const stored = o.merge.map((entry) => {
  const [, file, only] = /^(.*?)(?::([0-9]+(?:\+[0-9]+)*))?$/.exec(entry)!;
  const ipcs = only?.split("+").map(Number);
  const t = readStoredRows(file);
  return { file, ...t, rows: t.rows.filter((r) => !ipcs || ipcs.includes(r.ipc)) };
});
const overlap = stored.flatMap((s) => s.rows.filter((r) => o.ipc.includes(r.ipc)).map((r) => `${r.ipc} (${s.file})`));
if (!o.reportOnly && overlap.length)
  throw new Error(`--merge: IPC ${overlap.join(", ")} would also be run here; leave those IPCs out of --ipc`);

const distill = fileURLToPath(new URL("../gpu-cluster/cli/distill.ts", import.meta.url));
/** One `distill` command; its whole output (bars included) goes to `<dir>.log`, its decisions here. */
function run(args: string[], dir: string): Promise<void> {
  const log = `${dir}.log`;
  console.error(`$ distill ${args.join(" ")}  (log: ${log})`);
  return loggedRun(process.execPath, [...process.execArgv, distill, ...args], {
    name: basename(dir),
    log,
    heartbeat: o.heartbeat,
  });
}

const teacherDir = join(o.out, "teacher");
if (!o.reportOnly) mkdirSync(o.out, { recursive: true }); // the runs' logs go beside their folders
if (!o.teacher && !o.reportOnly) await run(["squeeze", ...data, "--out", teacherDir, "--seed", "0"], teacherDir);
const teacher = o.teacher ?? join(teacherDir, "teacher.onnx");

const runs = o.ipc.flatMap((ipc) => o.seeds.map((seed) => ({ ipc, seed, dir: join(o.out, `ipc${ipc}-seed${seed}`) })));
if (!o.reportOnly) {
  // --jobs workers take the runs in table order
  const queue = [...runs];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift())
      await run(
        [
          "run",
          ...data,
          ...["--teacher", teacher, "--ipc", String(r.ipc), "--seed", String(r.seed), "--out", r.dir],
          ...extra,
        ],
        r.dir,
      );
  };
  await Promise.all(Array.from({ length: o.jobs }, worker));
}
const reports: Report[] = runs
  .filter((r) => !o.reportOnly || existsSync(join(r.dir, "report.json")))
  .map((r) => parseReport(JSON.parse(readFileSync(join(r.dir, "report.json"), "utf8"))));
if (reports.length === 0 && o.merge.length === 0)
  throw new Error(`no finished run under ${o.out}: run without --report-only first`);

const command = typedCommand(process.argv, process.env, "results:mnist");
const host = machine();
const date = new Date().toISOString().slice(0, 10);
const here: RowSource = { command, machine: host, date };
const own = reports.length
  ? {
      basis: {
        dataset: reports[0].dataset,
        teacher_arch: reports[0].teacher.arch,
        teacher_accuracy: reports[0].teacher_accuracy,
      },
      rows: rowsFromReports(reports, o.ipc, here),
    }
  : null;
const { basis, rows } = mergeRows(own, stored);
const ipcs = [...new Set(rows.map((r) => r.ipc))];

// one seed: the figure alone (a spread of one run would read as ± 0.00)
const cell = (xs: number[]) => (xs.length === 1 ? percent(xs[0]) : `${percent(mean(xs))} ± ${percent(std(xs))}`);
// NaN where a run skipped its baselines: the cell then says so rather than showing 0
const figures = (xs: (number | null)[]) => xs.map((x) => x ?? NaN);

// beside a seed: the set the gate kept, and the bits per pixel of ours' images where fewer than 8
const seedNote = (kept: string | null, bits: number) => {
  const notes = [...(kept ? [kept] : []), ...(bits < 8 ? [`${bits}-bit`] : [])];
  return notes.length ? ` (${notes.join(", ")})` : "";
};
// the student's name, with its width where the runs recorded one (it follows the teacher's: the data decides it)
const studentName = (r: (typeof rows)[number]) => {
  const widths = [...new Set(r.student_width.filter((w) => w !== null))];
  return widths.length ? `${r.student}, ${widths.join(" or ")} wide` : r.student;
};
const lines = [
  "| IPC | student | distilled (ours) | (a) random real, hard | (b) random real, soft | ours − (b) | seeds (set the gate kept) |",
  "|---:|---|---:|---:|---:|---:|---|",
];
for (const r of rows) {
  const gap = r.distilled.map((d, i) => (d ?? NaN) - (r.random_soft[i] ?? NaN));
  // runs with --student-inits: also how many of all their student draws ours led (b) on
  const drawsAhead = r.draws_ahead ? `; ${r.draws_ahead.ahead}/${r.draws_ahead.draws} draws` : "";
  lines.push(
    `| ${r.ipc} | ${studentName(r)} | ${cell(figures(r.distilled))} | ${cell(figures(r.random_hard))} | ${cell(figures(r.random_soft))} | ` +
      `${mean(gap) > 0 ? "+" : ""}${cell(gap)} pt (ahead in ${gap.filter((g) => g > 0).length}/${gap.length}${drawsAhead}) | ${r.seeds.map((s, i) => s + seedNote(r.gate_kept[i], r.image_bits[i])).join(", ")} |`,
  );
}
const teacherAcc = basis.teacher_accuracy;
// How long the students trained, per IPC (the default grows as the set shrinks); reports written
// before 2026-12-03 did not record it, and the line is then left out.
const epochsAt = ipcs.map((ipc) => [...new Set(rows.filter((r) => r.ipc === ipc).flatMap((r) => r.student_epochs))]);
const studentEpochs = epochsAt.flat().every((e) => e !== null)
  ? ` Students trained for ${epochsAt.map((es) => es.join(" or ")).join(" / ")} epochs (IPC ${ipcs.join(" / ")}).`
  : "";
// Merged rows: which command produced which IPCs (without --merge, every row is this command's).
const ipcsBySource = new Map<string, Set<number>>();
for (const r of rows) {
  const key = JSON.stringify(r.source);
  ipcsBySource.set(key, (ipcsBySource.get(key) ?? new Set()).add(r.ipc));
}
const provenance =
  o.merge.length === 0
    ? `produced by \`${command}\` on ${host}, ${date}.`
    : `put together by \`${command}\` on ${date} from: ` +
      [...ipcsBySource]
        .map(([key, at]) => {
          const s = JSON.parse(key) as RowSource;
          return `IPC ${[...at].join(", ")} by \`${s.command}\` on ${s.machine}, ${s.date}`;
        })
        .join("; ") +
      ".";

// Ours (first student) next to the published records, per IPC.
const first = rows[0].student;
const firstAt = (ipc: number) => rows.find((r) => r.ipc === ipc && r.student === first);
const oursAt = (ipc: number) => figures(firstAt(ipc)?.distilled ?? []);
const anchorLines = [
  `| IPC | ${ANCHORS.records.map((a) => a.name).join(" | ")} | ours (${first}) |`,
  `|---:|${ANCHORS.records.map(() => "---:").join("|")}|---:|`,
  ...ipcs.map(
    (ipc) =>
      `| ${ipc} | ${ANCHORS.records.map((a) => a.acc[ipc]?.toFixed(1) ?? "–").join(" | ")} | ${oursAt(ipc).length ? cell(oursAt(ipc)) : "–"} |`,
  ),
  "",
  `Published figures: ${ANCHORS.records.map((a) => `${a.name} (${a.cite})`).join("; ")}; ${ANCHORS.note}.`,
];
const dataset = basis.dataset;
const plotted = ipcs.length > 1;
const md = [
  `Teacher: ${basis.teacher_arch}, ${(100 * teacherAcc).toFixed(2)} % on the ${dataset} test set (baseline c). ` +
    `Top-1 (%) on the test images, mean ± std over seeds; ${provenance}${studentEpochs}`,
  "",
  ...lines,
  "",
  ...anchorLines,
  // a curve needs two IPCs: a one-IPC table (a row rerun on its own) has no plot
  ...(plotted ? ["", `![accuracy vs IPC](${o.name}.png)`] : []),
  "",
].join("\n");
mkdirSync(o.results, { recursive: true });
const seriesOf = (k: "distilled" | "random_hard" | "random_soft", name: string) => ({
  name,
  points: ipcs.flatMap((ipc) => {
    const xs = figures(firstAt(ipc)?.[k] ?? []).map((x) => 100 * x);
    return xs.length ? [{ x: ipc, y: mean(xs), err: std(xs) }] : [];
  }),
});
if (plotted) {
  const ours = seriesOf("distilled", "ours (distilled)");
  const soft = seriesOf("random_soft", "(b) random real, soft");
  // The band where distilled sets compete: from 2 pt under the lowest of ours, (b) and the records;
  // (a) at low IPC may lie below it (see the table).
  const yMin = Math.floor(
    Math.min(
      ...[...ours.points, ...soft.points].map((p) => p.y - (p.err ?? 0)),
      ...ANCHORS.records.flatMap((a) => ipcs.map((ipc) => a.acc[ipc] ?? Infinity)),
    ) - 2,
  );
  await writeLineChartPng(join(o.results, `${o.name}.png`), {
    title: `${dataset}, ${first} student: top-1 vs images per class (mean ± std over seeds)`,
    x: { label: "images per class (IPC)", log: true },
    y: { label: "top-1 on the test set (%)", min: yMin, max: 100 },
    series: [ours, soft, seriesOf("random_hard", "(a) random real, hard")],
    references: ANCHORS.records.map((a) => ({
      name: a.name,
      points: ipcs.filter((ipc) => a.acc[ipc] !== undefined).map((ipc) => ({ x: ipc, y: a.acc[ipc] })),
    })),
    rules: [{ name: `teacher (${(100 * teacherAcc).toFixed(2)} %)`, y: 100 * teacherAcc }],
  });
}
writeFileAtomic(join(o.results, `${o.name}.md`), md);
writeJsonAtomic(join(o.results, `${o.name}.json`), {
  command,
  machine: host,
  date: new Date().toISOString(),
  dataset,
  teacher_arch: basis.teacher_arch,
  teacher_accuracy: teacherAcc,
  extra,
  rows,
  anchors: ANCHORS.records,
});
process.stdout.write(md);
