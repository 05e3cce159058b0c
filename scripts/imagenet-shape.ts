// ImageNet-shaped time and memory: recover and relabel at 1000 classes, 224 px, for a slice of
// the classes at IPC 50, with a randomly initialised teacher (time and memory do not depend on
// the weights; there is no ImageNet here). Each part runs in its own process so that its peak
// RSS is its own. From the measured CPU time per step it projects the full ImageNet-1K IPC 50 job.
//
//   npx tsx scripts/imagenet-shape.ts [--arch resnet18] [--classes 2] [--ipc 50] [--steps 3] [--threads 2]
//
// Prints a Markdown table and writes the figures as JSON to bench/results/imagenet-shape-<arch>.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { Command } from "commander";
import { tensor } from "../gpu-cluster/graph/builder.ts";
import { inferenceGraph } from "../gpu-cluster/models/inference-graph.ts";
import { ParamStore } from "../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../gpu-cluster/models/zoo.ts";
import { Classifier } from "../gpu-cluster/runtime/inference.ts";
import { RecoverStep, type RecoverStepConfig } from "../gpu-cluster/stages/recover-step.ts";
import { oneHot } from "../gpu-cluster/training/classifier.ts";
import { QUANT_U8, recordSize } from "../shared/label-table/header.ts";
import { int } from "../gpu-cluster/cli/number-args.ts";

const o = new Command("imagenet-shape")
  .option("--arch <arch>", "teacher: resnet18 or resnet50", "resnet18")
  .option("--classes <n>", "classes in the slice", int("--classes", 1), 2)
  .option("--ipc <n>", "images per class", int("--ipc", 1), 50)
  .option("--steps <n>", "timed recover steps (after one warm-up)", int("--steps", 1), 3)
  .option("--threads <n>", "ORT intra-op threads", int("--threads", 1), 2)
  .option("--part <part>", "internal: recover | relabel, run in this process, JSON out")
  .parse()
  .opts<{ arch: string; classes: number; ipc: number; steps: number; threads: number; part?: string }>();

const CLASSES = 1000,
  SIZE = 224,
  TOP_K = 10,
  RECOVER_BATCH = 100; // SRe2L's ImageNet recover batch (and distill's --recover-batch default)
const spec: ModelSpec = { arch: o.arch, classes: CLASSES, channels: 3, size: SIZE };
const images = o.classes * o.ipc;
const batch = Math.min(RECOVER_BATCH, images);
const peakMiB = () => process.resourceUsage().maxRSS / 1024;

function input(n: number) {
  const t = tensor("float32", [n, 3, SIZE, SIZE]);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.37);
  return t;
}

/** Median wall and CPU time (user + system, all threads) of one step, after a warm-up. On a shared
 *  machine the CPU time is the figure that does not depend on the other jobs. */
async function timeSteps(body: () => Promise<unknown>, steps: number): Promise<{ ms: number; cpuMs: number }> {
  await body(); // warm-up
  const wall: number[] = [],
    cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now(),
      c0 = process.cpuUsage();
    await body();
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1];
  return { ms: median(wall), cpuMs: median(cpu) };
}

if (o.part === "recover") {
  const params = new ParamStore(1);
  const cfg: RecoverStepConfig = {
    ...{ batch, channels: 3, size: SIZE, cropSize: SIZE, classes: CLASSES, rBn: 0.01, firstBnMultiplier: 10 },
    ...{ beta1: 0.5, beta2: 0.9, lower: [-2.2, -2.1, -1.9], upper: [2.3, 2.5, 2.7] },
  };
  const t0 = performance.now();
  const step = await RecoverStep.compile({ kind: "zoo", spec, params }, cfg, input(batch), { threads: o.threads });
  const compileMs = performance.now() - t0;
  const eye = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < SIZE; i++) eye[i * SIZE + i] = 1;
  const targets = oneHot(
    Array.from({ length: batch }, (_, i) => Math.floor(i / o.ipc)),
    CLASSES,
  );
  const t = await timeSteps(() => step.step(eye, eye, targets, 0.25, cfg), o.steps);
  console.log(JSON.stringify({ ...t, compileMs, peakMiB: peakMiB() }));
} else if (o.part === "relabel") {
  // Relabel's work per crop: one frozen forward (the crop itself is cheap host work).
  const clf = await Classifier.fromGraph(inferenceGraph(spec, new ParamStore(1)), { threads: o.threads });
  const x = input(batch);
  const t = await timeSteps(() => clf.logits(x), o.steps);
  console.log(JSON.stringify({ ...t, peakMiB: peakMiB() }));
} else {
  const part = (name: string) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--import", "tsx", "scripts/imagenet-shape.ts", ...process.argv.slice(2), "--part", name],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
      )
        .trim()
        .split("\n")
        .pop()!,
    ) as { ms: number; cpuMs: number; peakMiB: number; compileMs?: number };
  const recover = part("recover");
  const relabel = part("relabel");
  const fullImages = CLASSES * o.ipc;
  const hours = (ms: number) => ms / 3_600_000;
  // Recover: every image takes `iterations` steps in batches of RECOVER_BATCH.
  // Projections from CPU time (one core's worth of work; the wall time on this shared machine
  // depends on the other jobs): work / cores is the wall time on an idle machine of that many cores.
  const recoverHours = (iterations: number) => hours((fullImages / batch) * iterations * recover.cpuMs);
  const labelBytesPerEpoch = fullImages * recordSize(TOP_K, QUANT_U8, true);
  const relabelHoursPerEpoch = hours((fullImages / batch) * relabel.cpuMs);
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus()[0].model}, ${cpus().length} cores, ${o.threads} ORT threads`,
    command: `npx tsx scripts/imagenet-shape.ts ${process.argv.slice(2).join(" ")}`.trim(),
    arch: o.arch,
    slice: { classes: o.classes, ipc: o.ipc, images, batch },
    recover: { ...recover, imagesPerCoreHour100: (batch / (recover.cpuMs * 100)) * 3_600_000 },
    relabel: { ...relabel, cropsPerCoreSecond: batch / (relabel.cpuMs / 1000) },
    labelTable: { recordBytes: recordSize(TOP_K, QUANT_U8, true), bytesPerEpochFull: labelBytesPerEpoch },
    projection: {
      images: fullImages,
      recoverHours100: recoverHours(100),
      recoverHours1000: recoverHours(1000),
      relabelHoursPerEpoch,
      relabelHours300: 300 * relabelHoursPerEpoch,
      labelBytes300: 300 * labelBytesPerEpoch,
    },
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/imagenet-shape-${o.arch}.json`, JSON.stringify(result, null, 1) + "\n");
  const f = (n: number, d = 1) => n.toFixed(d);
  console.log(`${result.command} — ${result.machine}, ${result.date}`);
  console.log(`| ${o.arch}, 224 px, 1000 classes | measured |`);
  console.log(`| --- | --: |`);
  console.log(
    `| recover step, batch ${batch} | ${f(recover.cpuMs / 1000, 2)} core-s (wall ${f(recover.ms / 1000, 1)} s here), peak RSS ${f(recover.peakMiB, 0)} MiB |`,
  );
  console.log(
    `| recover images per core-hour at 100 iterations (1000: ÷10) | ${f(result.recover.imagesPerCoreHour100, 0)} |`,
  );
  console.log(
    `| relabel forward, batch ${batch} | ${f(relabel.cpuMs / 1000, 2)} core-s (${f(result.relabel.cropsPerCoreSecond)} crops per core-s), peak RSS ${f(relabel.peakMiB, 0)} MiB |`,
  );
  console.log(`| label table per epoch (50 000 images, top-10 u8 + box) | ${f(labelBytesPerEpoch / 2 ** 20)} MiB |`);
  console.log(
    `| full IPC 50 recover, 100 / 1000 iterations | ${f(recoverHours(100), 0)} / ${f(recoverHours(1000), 0)} core-hours |`,
  );
  console.log(
    `| full relabel, 300 epochs | ${f(result.projection.relabelHours300, 0)} core-hours (${f(relabelHoursPerEpoch, 2)} per epoch) |`,
  );
  console.log(`| label table, 300 epochs | ${f(result.projection.labelBytes300 / 2 ** 30, 2)} GiB |`);
}
