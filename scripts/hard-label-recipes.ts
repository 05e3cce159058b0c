// Baseline (a) under recipes of its own: the run's random real subset with hard labels, trained
// for E epochs with or without CutMix, everything else as every run's students (crops, optimiser,
// width). The table's (a) keeps the soft-label columns' recipe, as the comparison requires (600 000
// crops: 60 000 epochs at IPC 1), and one hard label per image overfits under it; this says what
// (a) reaches with a recipe suited to hard labels, next to the published random-subset figures.
// Usage: npm run results:hard-labels -- --teacher T.onnx [--ipc 1,10] [--seeds 0,1,2]
//          [--epochs 100,300,1000] [--mix none,cutmix] [--out runs/hard-label-recipes] [--name hard-label-recipes]
//          [-- <further distill run flags for every student, e.g. --crop-scale 1,1>]
// Writes results/<name>.md and .json (or --results DIR).
import { join } from "node:path";
import { Command } from "commander";
import { addRunOptions, type CliOptions } from "../gpu-cluster/cli/options.ts";
import { Pipeline } from "../gpu-cluster/cli/pipeline.ts";
import { intList } from "../gpu-cluster/cli/number-args.ts";
import { mean, populationSd } from "../gpu-cluster/cli/summary-stats.ts";
import { writeFileAtomic, writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { machine, typedCommand } from "./provenance.ts";

const program = new Command("hard-label-recipes")
  .requiredOption("--teacher <file.onnx>", "the teacher whose runs these are (its width sets the student's)")
  .option("--data <path>", "dataset folder (default: the embedded MNIST)")
  .option("--ipc <list>", "IPC values", intList("--ipc", 1), [1, 10])
  .option("--seeds <list>", "seeds (the random subset's draw)", intList("--seeds", 0), [0, 1, 2])
  .option("--epochs <list>", "student epochs", intList("--epochs", 1), [100, 300, 1000])
  .option("--mix <list>", "crop mixing: none, cutmix", (v: string) => v.split(","), ["none", "cutmix"])
  .option(
    "--out <dir>",
    "run folders (the teacher imported, (a)'s students cached)",
    join("runs", "hard-label-recipes"),
  )
  .option("--name <stem>", "results/<stem>.md and .json", "hard-label-recipes")
  .option("--results <dir>", "where the table goes", "results")
  .allowExcessArguments(true)
  .parse();
/** Further `distill run` flags for every student, after `--` (e.g. `-- --crop-scale 1,1`). */
const extra = program.args;
const o = program.opts<{
  teacher: string;
  data?: string;
  ipc: number[];
  seeds: number[];
  epochs: number[];
  mix: string[];
  out: string;
  name: string;
  results: string;
}>();

type Row = { ipc: number; epochs: number; mix: string; top1: number[] };
// every combination's options parsed before any student trains: a bad --mix or extra flag stops here
const jobs = o.ipc.flatMap((ipc) =>
  o.mix.flatMap((mix) =>
    o.epochs.map((epochs) => ({
      row: { ipc, epochs, mix, top1: [] } as Row,
      runs: o.seeds.map((seed) => {
        const args = [
          ...(o.data ? ["--data", o.data] : []),
          ...["--teacher", o.teacher, "--out", join(o.out, `ipc${ipc}-seed${seed}`)],
          ...["--ipc", String(ipc), "--seed", String(seed), "--epochs", String(epochs), "--mix", mix, "--quiet"],
          ...extra,
        ];
        return {
          seed,
          args,
          options: addRunOptions(new Command("run")).parse(args, { from: "user" }).opts<CliOptions>(),
        };
      }),
    })),
  ),
);
const rows: Row[] = [];
for (const { row, runs } of jobs) {
  for (const { seed, args, options } of runs) {
    const p = new Pipeline(options, `hard-label-recipes ${args.join(" ")}`);
    await p.squeeze(); // imports the teacher (once per folder)
    const top1 = mean(await p.hardBaselineStudents(options.students[0])); // the mean over --student-inits draws
    row.top1.push(top1);
    console.log(`IPC ${row.ipc}, seed ${seed}, ${row.epochs} epochs, mix ${row.mix}: (a) ${(100 * top1).toFixed(2)} %`);
  }
  rows.push(row);
}

const pct = (xs: number[]) => `${(100 * mean(xs)).toFixed(2)} ± ${(100 * populationSd(xs)).toFixed(2)}`;
const md = [
  `Baseline (a), the run's random real subset with hard labels, under recipes of its own (top-1 % on the test images, mean ± std over seeds ${o.seeds.join(", ")}); produced by \`${typedCommand(process.argv, process.env, "results:hard-labels")}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.`,
  "",
  "| IPC | epochs (crops per image) | mix | (a) |",
  "|---:|---:|---|---:|",
  ...rows.map((r) => `| ${r.ipc} | ${r.epochs} | ${r.mix} | ${pct(r.top1)} |`),
  "",
].join("\n");
writeFileAtomic(join(o.results, `${o.name}.md`), md);
writeJsonAtomic(join(o.results, `${o.name}.json`), {
  machine: machine(),
  date: new Date().toISOString(),
  options: o,
  rows,
});
console.log(md);
