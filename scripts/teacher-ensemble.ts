// Measures a teacher ensemble against its members: top-1 of each member and of the mean of their
// logits on the held-out split squeeze chooses on (seed 0) and on the test set; writes the
// ensemble as a teacher file (`distill run --teacher OUT`).
// Usage: npx tsx scripts/teacher-ensemble.ts --data DIR --out ens.onnx a/teacher.onnx b/teacher.onnx ...
import { Command } from "commander";
import { loadDataset, validationSplit } from "../gpu-cluster/data/index.ts";
import { writeFileAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { makeBatch } from "../gpu-cluster/data/augment.ts";
import { tensor } from "../gpu-cluster/graph/builder.ts";
import { argmax } from "../gpu-cluster/stages/accuracy.ts";
import { logSoftmax } from "../gpu-cluster/stages/softmax.ts";
import { ensembleNote, ensembleTeacherOnnx } from "../gpu-cluster/stages/teacher-ensemble.ts";
import { readTeacherFile } from "../gpu-cluster/stages/teacher-file.ts";

const program = new Command("teacher-ensemble")
  .option("--data <path>", "dataset folder (default: the embedded MNIST)")
  .requiredOption("--out <file.onnx>", "where the ensemble goes")
  .argument("<teachers...>", "teacher files written by squeeze")
  .parse();
const o = program.opts<{ data?: string; out: string }>();
const files = program.args.map((f) => readTeacherFile(f));
const data = loadDataset(o.data);
const holdout = validationSplit(data.train, 0)?.holdout;
const notes = files.map((f) => {
  if (!f.note) throw new Error(`${f.file}: not a teacher written by squeeze (no note)`);
  return f.note;
});
const note = ensembleNote(notes);
const ensemble = ensembleTeacherOnnx(
  files.map((f) => f.bytes),
  note,
);
// top-1 (%) and mean negative log-likelihood of the true class (how good the probabilities are, which is what relabel hands on)
const score = async (bytes: Uint8Array) => {
  const clf = await Classifier.fromOnnx(bytes, { threads: 1 });
  const at = async (d: typeof data.val) => {
    const K = d.classes.length;
    let correct = 0;
    let nll = 0;
    for (let i = 0; i < d.labels.length; i += 500) {
      const idx = Array.from({ length: Math.min(500, d.labels.length - i) }, (_, j) => i + j);
      const logits = await clf.logits(
        tensor("float32", [idx.length, d.channels, d.height, d.width], makeBatch(d, idx, note)),
      );
      idx.forEach((src, j) => {
        const row = logits.subarray(j * K, (j + 1) * K);
        if (argmax(row) === d.labels[src]) correct++;
        nll -= logSoftmax(row)[d.labels[src]];
      });
    }
    return `${((100 * correct) / d.labels.length).toFixed(2)} % (NLL ${(nll / d.labels.length).toFixed(4)})`;
  };
  return { holdout: holdout ? await at(holdout) : "—", test: await at(data.val) };
};
for (const f of files) console.log(f.file, await score(f.bytes));
const s = await score(ensemble);
console.log("ensemble", s);
writeFileAtomic(
  o.out,
  ensembleTeacherOnnx(
    files.map((f) => f.bytes),
    { ...note, accuracy: Number(s.test) / 100 },
  ),
);
