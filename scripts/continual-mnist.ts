// The MNIST class-incremental result of results/continual-mnist.md: `distill continual` with 5
// and 10 steps, IPC 10, class orders 0, 1, 2, ours against (a) and (b), memory blocks keeping
// their arrival labels; and the 5-step run again with the memory relabelled by each step's
// teacher (--memory-labels current). Every (run, order) is
// its own process (--jobs of them at a time; each order has its own run folder, so they never
// share a file), then one pass over all orders per step count, which finds every step done and
// writes the table and the plot. A killed run resumes from the last finished step of each order.
// The default budget (smaller than the CLI's defaults: 2 shared CPU cores) is BUDGET below.
// Usage: npm run results:continual [-- --steps 5,10 --current-steps 5 --seeds 0,1,2 --jobs 2 --out runs/continual-mnist --report-only -- <distill flags>]
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { writeFileAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { intList } from "../gpu-cluster/cli/number-args.ts";

/** Teacher per step: one epoch over ≤ 3 000 real images per seen class; ConvNet-3 of width 16
 * (teacher and students); students: 8 000 crops each. */
const BUDGET = [
  "--teacher-epochs",
  "1",
  "--teacher-per-class",
  "3000",
  "--teacher-width",
  "16",
  "--student-width",
  "16",
  "--student-crops",
  "8000",
];

const program = new Command("continual-mnist")
  .option("--steps <list>", "step counts (memory labels kept)", intList("--steps", 1), [5, 10])
  .option(
    "--current-steps <list>",
    "step counts run again with --memory-labels current",
    intList("--current-steps", 1),
    [5],
  )
  .option("--seeds <list>", "class-order seeds", intList("--seeds", 0), [0, 1, 2])
  .option("--jobs <n>", "processes at a time", (v) => Math.max(1, Number(v) || 1), 2)
  .option("--out <dir>", "folder of the runs", "runs/continual-mnist")
  .option("--results <dir>", "where the tables and plots go", "results")
  .option("--report-only", "run nothing: tables and plots of the steps finished so far", false)
  .allowExcessArguments(true)
  .parse();
const o = program.opts<{
  steps: number[];
  currentSteps: number[];
  seeds: number[];
  jobs: number;
  out: string;
  results: string;
  reportOnly: boolean;
}>();
// one thread per process: several run at once
const extra = [...BUDGET, "--threads", "1", ...program.args];

const distill = fileURLToPath(new URL("../gpu-cluster/cli/distill.ts", import.meta.url));
function run(args: string[]): Promise<void> {
  console.error(`$ distill ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, distill, ...args], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    p.on("error", reject);
    p.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`distill ${args.join(" ")} exited with ${code}`)),
    );
  });
}

interface Variant {
  steps: number;
  labels: "kept" | "current";
}
const name = (v: Variant) => `s${v.steps}${v.labels === "current" ? "-current" : ""}`;
const variants: Variant[] = [
  ...o.steps.map((steps) => ({ steps, labels: "kept" as const })),
  ...o.currentSteps.map((steps) => ({ steps, labels: "current" as const })),
];
const common = (v: Variant) => [
  "--steps",
  String(v.steps),
  "--ipc",
  "10",
  "--memory-labels",
  v.labels,
  "--out",
  join(o.out, name(v)),
];
// longest first: 10-step orders, then 5-step ones
const queue = (o.reportOnly ? [] : [...variants])
  .sort((a, b) => b.steps - a.steps)
  .flatMap((v) => o.seeds.map((seed) => [...common(v), "--seeds", String(seed), "--quiet", ...extra]));
await Promise.all(
  Array.from({ length: o.jobs }, async () => {
    for (let args = queue.shift(); args; args = queue.shift()) await run(["continual", ...args]);
  }),
);

mkdirSync(o.results, { recursive: true });
const parts = [
  "# Class-incremental MNIST from distilled sets",
  "",
  `Regenerate: \`npm run results:continual\` (scripts/continual-mnist.ts; budget: \`${BUDGET.join(" ")}\`). Protocol and discussion: [docs/continual.md](../docs/continual.md).`,
  "",
];
for (const v of variants) {
  await run([
    "continual",
    ...common(v),
    "--seeds",
    o.seeds.join(","),
    "--quiet",
    ...extra,
    ...(o.reportOnly ? ["--report-only"] : []),
  ]);
  const dir = join(o.out, name(v));
  const file = `continual-mnist-${name(v)}`;
  copyFileSync(join(dir, "continual.png"), join(o.results, `${file}.png`));
  copyFileSync(join(dir, "continual.json"), join(o.results, `${file}.json`));
  parts.push(
    readFileSync(join(dir, "continual.md"), "utf8").replace(/^# /, "## "),
    `![${v.steps} steps, memory labels ${v.labels}](${file}.png)`,
    "",
  );
}
writeFileAtomic(join(o.results, "continual-mnist.md"), parts.join("\n"));
console.error(`wrote ${join(o.results, "continual-mnist.md")}`);
