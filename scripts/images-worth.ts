// What is a distilled set worth in random real images? (b) — a random real subset with the
// teacher's soft labels on its crops — at several subset sizes, every student at the same crop
// budget (the default recipe's 600 000 crops), from IPC 1 up to the whole training set: how much
// any choice of images could still add under these labels, and, placed on that curve, how many
// random real images per class each distilled set is worth. For docs/ablations.md.
// Usage: npx tsx scripts/images-worth.ts --out SWEEP --teacher T.onnx [--data D] [--seed S]
//          [--ipcs 1,10,50,500,all] [--crops 600000] [--place RUN,RUN…] [--name N] [distill run options]
// Each size is its own run folder under SWEEP (resumable: a finished size is not trained again).
// Writes results/<name>.md, .json and .png.
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { addRunOptions, type CliOptions } from "../gpu-cluster/cli/options.ts";
import { Pipeline } from "../gpu-cluster/cli/pipeline.ts";
import { smallestClassSize } from "../gpu-cluster/data/dataset.ts";
import { parseReport } from "../gpu-cluster/cli/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { writeLineChartPng } from "../gpu-cluster/io/plot.ts";
import { machine } from "./provenance.ts";
import { int } from "../gpu-cluster/cli/number-args.ts";

const program = addRunOptions(new Command("images-worth"))
  .option(
    "--ipcs <list>",
    "sizes of the random subsets, images per class; 'all': the smallest class's count (the whole training set when balanced)",
    (s) => s.split(","),
    ["1", "10", "50", "500", "all"],
  )
  .option("--crops <n>", "crops every student sees (the default recipe's budget)", int("--crops", 1), 600000)
  .option(
    "--place <runs>",
    "run folders (with report.json) whose distilled sets to place on the curve",
    (s) => s.split(","),
    [],
  )
  .option("--results <dir>", "where the table goes", "results")
  .option("--name <stem>", "name of the table's files", "images-worth")
  .parse();
const o = program.opts<
  CliOptions & { ipcs: string[]; crops: number; place: string[]; results: string; name: string }
>();
if (!o.out) throw new Error("images-worth: give the sweep's folder with --out SWEEP");
if (o.epochs !== undefined) throw new Error("images-worth: --epochs is set per size from --crops; drop --epochs");
const arch = o.students[0];
const command = ["images-worth", ...process.argv.slice(2)].join(" ");

const first = new Pipeline(o, command);
const { train } = first.data;
const classes = train.classes.length;
const smallestClass = smallestClassSize(train);
const sizes = o.ipcs.map((v) => {
  const n = v === "all" ? smallestClass : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--ipcs: '${v}' is not a whole number ≥ 1 or 'all'`);
  return n;
});
const dataset = first.datasetName;

// the runs to place, read first: their students at the same size may be the curve's (below)
const runs = o.place.map((dir) => {
  const file = join(dir, "report.json");
  if (!existsSync(file))
    throw new Error(`--place ${dir}: no report.json; finish that run first (distill run … --out ${dir})`);
  const r = parseReport(JSON.parse(readFileSync(file, "utf8")));
  if (!r.students[arch])
    throw new Error(`--place ${dir}: its report has no ${arch} student; give --students as that run did`);
  const crops = (r.student_epochs ?? 0) * r.images;
  if (crops !== o.crops)
    throw new Error(
      `--place ${dir}: its students saw ${crops} crops, the curve's ${o.crops}: give --crops ${crops} to compare like with like`,
    );
  return { dir, report: r };
});

/** (b) at each size: top-1 of its student on the val set. */
const curve: { ipc: number; epochs: number; crops: number; accuracy: number }[] = [];
let teacherAccuracy: number | undefined;
for (const ipc of [...new Set(sizes)].sort((a, b) => a - b)) {
  const images = classes * ipc;
  const epochs = Math.max(1, Math.round(o.crops / images));
  const out = join(o.out, `ipc${ipc}`);
  // A run of this size whose gate trained (b)'s student under the same recipe has it in its student
  // cache, whose keys hash the images, labels and recipe: copied here, it is scored, not retrained.
  for (const { dir, report } of runs)
    if (report.ipc === ipc && existsSync(join(dir, "students")))
      for (const f of readdirSync(join(dir, "students")))
        if (!existsSync(join(out, "students", f))) cpSync(join(dir, "students", f), join(out, "students", f));
  const p = new Pipeline({ ...o, ipc, epochs, out }, command);
  await p.squeeze();
  teacherAccuracy ??= p.teacher().note?.accuracy;
  const accuracy = (await p.randomSoftStudents())[arch];
  curve.push({ ipc, epochs, crops: epochs * images, accuracy });
  console.log(`images-worth: IPC ${ipc}: ${epochs} epochs × ${images} images, (b) ${(100 * accuracy).toFixed(2)} %`);
}

/**
 * The random images per class the curve needs to reach `accuracy` (linear in log IPC between
 * measured sizes; the first size where it is reached). Below the smallest size or above every
 * size: undefined, with the side.
 */
function worthOnCurve(
  points: { ipc: number; accuracy: number }[],
  accuracy: number,
): { ipc?: number; side?: "below" | "above" } {
  if (accuracy < points[0].accuracy) return { side: "below" };
  if (accuracy === points[0].accuracy) return { ipc: points[0].ipc };
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    if (accuracy <= b.accuracy && b.accuracy > a.accuracy) {
      const f = (accuracy - a.accuracy) / (b.accuracy - a.accuracy);
      if (f >= 0) return { ipc: Math.exp(Math.log(a.ipc) + f * (Math.log(b.ipc) - Math.log(a.ipc))) };
    }
  }
  return { side: "above" };
}

const placed = runs.map(({ dir, report: r }) => {
  const s = r.students[arch]!;
  const w = worthOnCurve(curve, s.distilled);
  return {
    run: dir,
    ipc: r.ipc,
    seed: r.seed,
    ours: s.distilled,
    b: s.random_soft ?? null,
    worth: w.ipc ?? null,
    side: w.side ?? null,
  };
});

const pct = (v: number) => (100 * v).toFixed(2);
const worthText = (p: (typeof placed)[number]) =>
  p.worth !== null ? p.worth.toFixed(p.worth < 10 ? 1 : 0) : `${p.side} the measured sizes`;
const md = [
  `# What the images are worth under soft labels (${dataset})`,
  "",
  `(b): a random real subset of each size, the teacher's soft labels on every crop, ${o.studentInits > 1 ? `the mean of ${o.studentInits} ${arch} students per size (initial-weight draws from seed ${o.studentSeed ?? o.seed}, step 1000)` : `one ${arch} student per size`}, each seeing ${o.crops.toLocaleString("en")} crops (the default recipe's budget), seed ${o.seed}.` +
    (teacherAccuracy !== undefined ? ` Teacher: ${pct(teacherAccuracy)} % top-1.` : ""),
  "",
  "| images per class | epochs | crops | (b) top-1 (%) |",
  "| ---: | ---: | ---: | ---: |",
  ...curve.map(
    (c) =>
      `| ${c.ipc}${c.ipc === smallestClass ? " (all of the smallest class)" : ""} | ${c.epochs} | ${c.crops} | ${pct(c.accuracy)} |`,
  ),
  ...(placed.length
    ? [
        "",
        `Distilled sets on this curve: the random real images per class that reach the same top-1 (a run of another seed than ${o.seed} meets the curve's seed-to-seed noise too).`,
        "",
        "| run | IPC | seed | ours (%) | its (b) (%) | worth (random images per class) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        ...placed.map(
          (p) =>
            `| ${p.run} | ${p.ipc} | ${p.seed} | ${pct(p.ours)} | ${p.b === null ? "–" : pct(p.b)} | ${worthText(p)} |`,
        ),
      ]
    : []),
  "",
  `Produced by \`npx tsx scripts/${command.replace(/^images-worth/, "images-worth.ts")}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.`,
  "",
].join("\n");

writeFileAtomic(join(o.results, `${o.name}.md`), md);
writeJsonAtomic(join(o.results, `${o.name}.json`), {
  command,
  arch,
  seed: o.seed,
  crops: o.crops,
  teacherAccuracy,
  curve,
  placed,
});
if (curve.length >= 2)
  await writeLineChartPng(join(o.results, `${o.name}.png`), {
    title: `${dataset}: random real images with soft labels, ${o.crops.toLocaleString("en")} crops each`,
    x: { label: "images per class", log: true },
    y: { label: "top-1 (%)" },
    series: [{ name: "(b) random real, soft labels", points: curve.map((c) => ({ x: c.ipc, y: 100 * c.accuracy })) }],
    references: placed.length
      ? [{ name: "ours (distilled)", points: placed.map((p) => ({ x: p.ipc, y: 100 * p.ours })) }]
      : undefined,
    referencesTitle: "placed runs",
    rules: teacherAccuracy !== undefined ? [{ name: "teacher", y: 100 * teacherAccuracy }] : undefined,
  });
console.log(md);
