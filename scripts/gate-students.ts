// What the recover gate chose, against what it could have chosen: every candidate's full student
// (random real images = (b), the starting images, the recovered images) scored on the val set
// beside the gate's own scores on training images and on the held-out split squeeze carved from
// the training images (images the teacher never trained on: the seed is the run's squeeze's, or
// --teacher-seed for an imported teacher), then what each --gate-keep rule keeps per run
// and its val top-1 against (b)'s. On the val set also how closely each student follows the teacher:
// top-1 agreement, and its top-1 on the images the teacher gets right and on those it gets wrong
// (does a set win by making a closer copy of the teacher, or by being right where the teacher is
// not?). For docs/ablations.md; reads run folders only.
// Usage: npx tsx scripts/gate-students.ts [--data PATH] [--teacher-seed N] RUN_DIR...
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { channelStats, loadDataset, validationSplit } from "../gpu-cluster/data/index.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { topOneClasses } from "../gpu-cluster/stages/accuracy.ts";
import { readTeacherFile, teacherNormalisation } from "../gpu-cluster/stages/teacher-file.ts";

const program = new Command("gate-students")
  .option("--data <path>", "the runs' dataset (default: embedded MNIST)")
  .option("--teacher-seed <n>", "the seed an imported teacher was squeezed with (its held-out split)", (v) => {
    if (!/^\d+$/.test(v)) throw new Error(`--teacher-seed ${v}: give the squeeze seed, a whole number`);
    return Number(v);
  })
  .argument("<runs...>")
  .parse();
const opts = program.opts<{ data?: string; teacherSeed?: number }>();
const data = loadDataset(opts.data);
const pct = (v: number) => (100 * v).toFixed(2);
/** The share of positions where a and b hold the same class, over the positions `where` admits. */
function agreement(a: ArrayLike<number>, b: ArrayLike<number>, where: (i: number) => boolean = () => true): number {
  let same = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++)
    if (where(i)) {
      n++;
      if (a[i] === b[i]) same++;
    }
  return same / n;
}
type StagesFile = { stages: { squeeze: { config: { seed?: number } } } };

console.log(
  "| run | candidate | gate score (train images) | z | teacher's held-out split: top-1 / agrees with teacher | val top-1 | agrees with teacher (val) | top-1 where teacher right / wrong (val) | kept |",
);
console.log("| --- | --- | --: | --: | --: | --: | --: | --: | :-: |");
const rules: string[] = [];
for (const run of program.args) {
  const gate = JSON.parse(readFileSync(join(run, "recover.json"), "utf8")).gate;
  if (!gate?.students) throw new Error(`${run}: recover.json has no gate students (run with the gate on)`);
  const stats = teacherNormalisation(readTeacherFile(join(run, "teacher.onnx")), channelStats(data.train));
  // the seed the teacher was squeezed with (an imported teacher's config does not say)
  const seed =
    (JSON.parse(readFileSync(join(run, "stages.json"), "utf8")) as StagesFile).stages.squeeze.config.seed ??
    opts.teacherSeed;
  const holdout = seed === undefined ? undefined : validationSplit(data.train, seed)?.holdout;
  const teacher = await Classifier.fromOnnx(new Uint8Array(readFileSync(join(run, "teacher.onnx"))));
  const teacherTop = await topOneClasses((x) => teacher.logits(x), data.val, stats);
  const teacherHeld = holdout && (await topOneClasses((x) => teacher.logits(x), holdout, stats));
  await teacher.release();
  const teacherRight = (i: number) => teacherTop[i] === data.val.labels[i];
  const val: Record<string, number> = {};
  for (const [name, key] of Object.entries(gate.students as Record<string, string>)) {
    const clf = await Classifier.fromOnnx(new Uint8Array(readFileSync(join(run, "students", `${key}.onnx`))));
    const top = await topOneClasses((x) => clf.logits(x), data.val, stats);
    val[name] = agreement(top, data.val.labels);
    const agree = agreement(top, teacherTop);
    const whenRight = agreement(top, data.val.labels, teacherRight);
    const whenWrong = agreement(top, data.val.labels, (i) => !teacherRight(i));
    let held = "–";
    if (holdout && teacherHeld) {
      const h = await topOneClasses((x) => clf.logits(x), holdout, stats);
      held = `${pct(agreement(h, holdout.labels))} / ${pct(agreement(h, teacherHeld))}`;
    }
    await clf.release();
    const z = gate.z[name] === undefined ? "" : gate.z[name].toFixed(2);
    console.log(
      `| ${run} | ${name} | ${pct(gate.scores[name])} | ${z} | ${held} | ${pct(val[name])} | ${pct(agree)} | ${pct(whenRight)} / ${pct(whenWrong)} | ${name === gate.kept ? "✓" : ""} |`,
    );
  }
  // --gate-keep best: the highest score, the first (least processed) of equals
  const names = Object.keys(gate.scores as Record<string, number>);
  const best = names.reduce((a, n) => (gate.scores[n] > gate.scores[a] ? n : a));
  const first = names[0]; // (b)'s random images (the start under --select random)
  const vsB = (n: string) => `${n} (${(100 * (val[n] - val[first])).toFixed(2)})`;
  rules.push(`| ${run} | ${pct(val[first])} | ${vsB(gate.kept)} | ${vsB(best)} |`);
}
console.log("\n| run | (b) val top-1 | kept (val − (b), pt) | best score (val − (b), pt) |");
console.log("| --- | --: | --- | --- |");
for (const row of rules) console.log(row);
