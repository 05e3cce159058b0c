// What the recover gate chose, against what it could have chosen: every candidate's full student
// (random real images = (b), the starting images, the recovered images) scored on the val set
// beside the gate's own scores on training images. For docs/ablations.md; reads run folders only.
// Usage: npx tsx scripts/gate-students.ts [--data PATH] RUN_DIR...
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { channelStats, loadDataset } from "../gpu-cluster/data/index.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { topOneAccuracy } from "../gpu-cluster/stages/accuracy.ts";
import { readTeacherFile, teacherNormalisation } from "../gpu-cluster/stages/teacher-file.ts";

const program = new Command("gate-students")
  .option("--data <path>", "the runs' dataset (default: embedded MNIST)")
  .argument("<runs...>")
  .parse();
const data = loadDataset(program.opts<{ data?: string }>().data);
const pct = (v: number) => (100 * v).toFixed(2);

console.log("| run | candidate | gate score (train images) | z | val top-1 | kept |");
console.log("| --- | --- | --: | --: | --: | :-: |");
for (const run of program.args) {
  const gate = JSON.parse(readFileSync(join(run, "recover.json"), "utf8")).gate;
  if (!gate?.students) throw new Error(`${run}: recover.json has no gate students (run with the gate on)`);
  const stats = teacherNormalisation(readTeacherFile(join(run, "teacher.onnx")), channelStats(data.train));
  for (const [name, key] of Object.entries(gate.students as Record<string, string>)) {
    const clf = await Classifier.fromOnnx(new Uint8Array(readFileSync(join(run, "students", `${key}.onnx`))));
    const val = await topOneAccuracy((x) => clf.logits(x), data.val, stats);
    await clf.release();
    const z = gate.z[name] === undefined ? "" : gate.z[name].toFixed(2);
    console.log(
      `| ${run} | ${name} | ${pct(gate.scores[name])} | ${z} | ${pct(val)} | ${name === gate.kept ? "✓" : ""} |`,
    );
  }
}
