// Engine benchmark (issue 2): for ResNet-18 at 3×224×224 batch 32 and ConvNet-3 at 1×28×28
// batch 256, the time of a forward pass, of a recover step (forward through the frozen teacher +
// input gradient + BN-statistic and CE loss + Adam on the images) and of a squeeze step (forward
// in BN training mode + weight gradients + SGD), as ratios to the forward of the same run, with
// achieved GFLOP/s (Conv/Gemm/MatMul work counted from each compiled graph) and peak RSS.
// Each (model, step) runs in its own child process so its peak RSS is its own.
//   npx tsx bench/engine.bench.ts            all cases, table + bench/results/engine.json
//   npx tsx bench/engine.bench.ts --one resnet18 recover   one case, JSON on stdout
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { tensor } from "../gpu-cluster/graph/builder.ts";
import { countFlops } from "../gpu-cluster/graph/flops.ts";
import { sgd } from "../gpu-cluster/autodiff/optimizers.ts";
import { ParamStore } from "../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../gpu-cluster/models/zoo.ts";
import { Classifier, ClassifierTrainer, inferenceGraph, oneHot } from "../gpu-cluster/runtime/classifier.ts";
import type { Program } from "../gpu-cluster/runtime/program.ts";
import { RecoverStep } from "../gpu-cluster/stages/recover-step.ts";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";

const CASES: Record<string, { spec: ModelSpec; batch: number; iters: number }> = {
  resnet18: { spec: { arch: "resnet18", classes: 1000, channels: 3, size: 224 }, batch: 32, iters: 3 },
  "convnet-3": { spec: { arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 128 }, batch: 256, iters: 10 },
};
const STEPS = ["forward", "recover", "squeeze"] as const;
type Step = (typeof STEPS)[number];

interface Result { model: string; step: Step; batch: number; ms: number; gflop: number; gflops: number; peakRssMiB: number }

function input(spec: ModelSpec, n: number) {
  const t = tensor("float32", [n, spec.channels, spec.size, spec.size]);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.37);
  return t;
}

async function timeIt(iters: number, body: () => Promise<unknown>): Promise<number> {
  await body(); // warm-up: first run allocates and plans
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await body();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function runOne(model: string, step: Step): Promise<Result> {
  const { spec, batch, iters } = CASES[model];
  const params = new ParamStore(1);
  const x = input(spec, batch);
  let program: Program;
  let body: () => Promise<unknown>;
  if (step === "forward") {
    const clf = await Classifier.fromGraph(inferenceGraph(spec, params));
    program = clf.program;
    body = () => clf.logits(x);
  } else if (step === "squeeze") {
    const trainer = await ClassifierTrainer.compile(spec, params, { optimizer: sgd({ momentum: 0.9, weightDecay: 5e-4 }) });
    program = trainer.program;
    const t = oneHot(Array.from({ length: batch }, (_, i) => i % spec.classes), spec.classes);
    body = () => trainer.step(x, t, 0.01);
  } else {
    const S = spec.size;
    const cfg = { batch, channels: spec.channels, size: S, cropSize: S, classes: spec.classes, rBn: 0.01, firstBnMultiplier: 10, beta1: 0.5, beta2: 0.9,
      lower: Array(spec.channels).fill(-3), upper: Array(spec.channels).fill(3) };
    const rs = await RecoverStep.compile({ kind: "zoo", spec, params }, cfg, x);
    program = rs.program;
    const eye = new Float32Array(S * S);
    for (let i = 0; i < S; i++) eye[i * S + i] = 1;
    const t = oneHot(Array.from({ length: batch }, (_, i) => i % spec.classes), spec.classes);
    body = () => rs.step(eye, eye, t, 0.1, cfg);
  }
  const ms = await timeIt(iters, body);
  const flop = countFlops(program.graph, { N: batch });
  return { model, step, batch, ms, gflop: flop / 1e9, gflops: flop / 1e9 / (ms / 1000), peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

const args = process.argv.slice(2);
if (args[0] === "--one") {
  process.stdout.write(JSON.stringify(await runOne(args[1], args[2] as Step)) + "\n");
} else {
  const results: Result[] = [];
  for (const model of Object.keys(CASES)) {
    for (const step of STEPS) {
      const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1], "--one", model, step], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      const r = JSON.parse(out.trim().split("\n").at(-1)!) as Result;
      results.push(r);
      process.stderr.write(`${model} ${step}: ${r.ms.toFixed(1)} ms\n`);
    }
  }
  const rows = results.map((r) => {
    const fwd = results.find((q) => q.model === r.model && q.step === "forward")!.ms;
    return { ...r, ratio: r.ms / fwd };
  });
  const targets: Record<Step, number> = { forward: 1, recover: 2.5, squeeze: 3.2 };
  console.log("| model | batch | step | ms/iter | × forward | target | GFLOP/iter | GFLOP/s | peak RSS |");
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.batch} | ${r.step} | ${r.ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.step === "forward" ? "" : `≤ ${targets[r.step]}`} | ${r.gflop.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} MiB |`);
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, ep: "cpu" };
  writeJsonAtomic("bench/results/engine.json", { date: new Date().toISOString(), machine, results: rows });
}
