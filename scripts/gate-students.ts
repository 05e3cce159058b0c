// What the recover gate chose, against what it could have chosen: every candidate's full student
// (random real images = (b), the starting images, the recovered images) scored on the val set
// beside the gate's own scores on training images and on the held-out split squeeze carves from
// the training images with the run's seed (images a teacher squeezed with that seed never
// trained on), then what each --gate-keep rule keeps per run
// and its val top-1 against (b)'s. For docs/ablations.md; reads run folders only.
// Usage: npx tsx scripts/gate-students.ts [--data PATH] RUN_DIR...
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { channelStats, loadDataset, validationSplit } from "../gpu-cluster/data/index.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { topOneAccuracy } from "../gpu-cluster/stages/accuracy.ts";
import { readTeacherFile, teacherNormalisation } from "../gpu-cluster/stages/teacher-file.ts";

const program = new Command("gate-students")
  .option("--data <path>", "the runs' dataset (default: embedded MNIST)")
  .argument("<runs...>")
  .parse();
const data = loadDataset(program.opts<{ data?: string }>().data);
const pct = (v: number) => (100 * v).toFixed(2);
type StagesFile = { stages: { recover: { config: { seed: number } } } };

console.log("| run | candidate | gate score (train images) | z | teacher's held-out split | val top-1 | kept |");
console.log("| --- | --- | --: | --: | --: | --: | :-: |");
const rules: string[] = [];
for (const run of program.args) {
  const gate = JSON.parse(readFileSync(join(run, "recover.json"), "utf8")).gate;
  if (!gate?.students) throw new Error(`${run}: recover.json has no gate students (run with the gate on)`);
  const stats = teacherNormalisation(readTeacherFile(join(run, "teacher.onnx")), channelStats(data.train));
  // the run's seed (recover's config holds it, also in a folder that stopped before relabel)
  const seed = (JSON.parse(readFileSync(join(run, "stages.json"), "utf8")) as StagesFile).stages.recover.config.seed;
  const holdout = validationSplit(data.train, seed)?.holdout;
  const val: Record<string, number> = {};
  for (const [name, key] of Object.entries(gate.students as Record<string, string>)) {
    const clf = await Classifier.fromOnnx(new Uint8Array(readFileSync(join(run, "students", `${key}.onnx`))));
    val[name] = await topOneAccuracy((x) => clf.logits(x), data.val, stats);
    const held = holdout ? pct(await topOneAccuracy((x) => clf.logits(x), holdout, stats)) : "–";
    await clf.release();
    const z = gate.z[name] === undefined ? "" : gate.z[name].toFixed(2);
    console.log(
      `| ${run} | ${name} | ${pct(gate.scores[name])} | ${z} | ${held} | ${pct(val[name])} | ${name === gate.kept ? "✓" : ""} |`,
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
