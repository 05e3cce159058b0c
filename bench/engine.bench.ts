// Engine benchmark (issue 2): for ResNet-18 at 3×224×224 batch 32 and ConvNet-3 at 1×28×28
// batch 256, the time of a forward pass, of a recover step (forward through the frozen teacher +
// input gradient + BN-statistic and CE loss + Adam on the images) and of a squeeze step (forward
// in BN training mode + weight gradients + SGD), as ratios to the forward of the same run, with
// achieved GFLOP/s (Conv/Gemm/MatMul work counted from each compiled graph) and peak RSS.
// Each (model, step) runs in its own child process so its peak RSS is its own.
//   npx tsx bench/engine.bench.ts            all cases, table + bench/results/engine.json
//   npx tsx bench/engine.bench.ts --one resnet18 recover   one case, JSON on stdout
// Where the time of a case goes: npx tsx bench/profile.ts resnet18 squeeze (ORT profiler).
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { countFlops } from "../gpu-cluster/graph/flops.ts";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { buildCase, CASES, STEPS, type Step } from "./engine-cases.ts";

interface Result { model: string; step: Step; batch: number; ms: number; gflop: number; gflops: number; peakRssMiB: number }

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
  const { batch, iters } = CASES[model];
  const { program, body } = await buildCase(model, step);
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
  const targets: Partial<Record<Step, number>> = { recover: 2.5, squeeze: 3.2 };
  console.log("| model | batch | step | ms/iter | × forward | target | GFLOP/iter | GFLOP/s | peak RSS |");
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.batch} | ${r.step} | ${r.ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${targets[r.step] ? `≤ ${targets[r.step]}` : ""} | ${r.gflop.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} MiB |`);
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, ep: "cpu" };
  writeJsonAtomic("bench/results/engine.json", { date: new Date().toISOString(), machine, results: rows });
}
