// Do the images carry anything when the labels do not? Each candidate set of a run — (b)'s random
// real images, recover's starting images, and the run's images.npy (the recovered ones in a
// `--no-recover-gate` run) — trains the run's student with the images' own classes as hard labels
// (mixed like the crops, as (a) is trained), next to the soft-label students the gate trained.
// With soft labels on every crop the sets tie (docs/ablations.md); with hard labels subset quality
// is known to show (Dey et al., CVPR 2026, arXiv 2604.18811). For docs/ablations.md.
// Usage: npx tsx scripts/hard-label-students.ts --out RUN [the run's distill options: --data, --ipc, --seed, …]
// (a)'s figure is read from RUN/baselines/results.json where that stage is up to date, else trained.
// Writes RUN/hard-label-students.json.
import { existsSync } from "node:fs";
import { Command } from "commander";
import { addRunOptions, type CliOptions } from "../gpu-cluster/cli/options.ts";
import { Pipeline } from "../gpu-cluster/cli/pipeline.ts";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { randomRealSubset } from "../gpu-cluster/stages/random-subset.ts";

const program = addRunOptions(new Command("hard-label-students")).parse();
const o = program.opts<CliOptions>();
if (!o.out) throw new Error("hard-label-students: give the run folder with --out RUN");
const p = new Pipeline(o, ["hard-label-students", ...process.argv.slice(2)].join(" "));
if (!existsSync(p.run.path("images.npy")))
  throw new Error(`${p.run.dir}: no images.npy; run \`distill recover\` there first (same options)`);
const tf = p.teacher();
const start = await p.start.initialRealImages(tf.bytes, tf.classes);
if (!start) throw new Error("--init noise has no starting real images to compare");
const images = p.synthetic();
// (a) is read from the run's baselines only where that stage is up to date with these options
const baselines = (await p.freshBaselines()) ?? {};
const results: Record<string, Record<string, number>> = {};
for (const arch of o.students) {
  const known: number | undefined = baselines[arch]?.random_hard;
  results[arch] = {
    random: known ?? (await p.hardLabelStudent(randomRealSubset(p.data.train, o.ipc, o.seed), arch, `${arch} random`)),
    start: await p.hardLabelStudent(start, arch, `${arch} start`),
    images: await p.hardLabelStudent(images, arch, `${arch} images.npy`),
  };
  const r = results[arch];
  console.log(
    `${p.run.dir} ${arch}, hard labels, val top-1: random ${(100 * r.random).toFixed(2)} %${known === undefined ? "" : " (baselines/results.json)"}, start ${(100 * r.start).toFixed(2)} %, images.npy ${(100 * r.images).toFixed(2)} %`,
  );
}
writeJsonAtomic(p.run.path("hard-label-students.json"), { command: p.command, results });
