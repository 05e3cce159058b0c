// Engine benchmark (issue 2): for ResNet-18 at 3×224×224 batch 32 and ConvNet-3 at 1×28×28
// batch 256, the time of a forward pass, of a recover step (forward through the frozen teacher +
// input gradient + BN-statistic and CE loss + Adam on the images) and of a squeeze step (forward
// in BN training mode + weight gradients + SGD), as ratios to the forward of the same run, with
// achieved GFLOP/s (Conv/Gemm/MatMul work counted from each compiled graph) and peak RSS.
// Each (model, step) runs in its own child process so its peak RSS is its own.
// The peer: where /usr/bin/python3 has torch, the same steps in PyTorch (bench/pytorch-peer.py,
// CPU, the same thread count), each in its own Python process, side by side in the table.
//   npx tsx bench/engine.bench.ts            all cases, table + bench/results/engine.json
//   npx tsx bench/engine.bench.ts --one resnet18 recover   one case, JSON on stdout
//   BENCH_QUICK=1      smoke run: batches ÷ 8, one timed step (bench/results/engine-quick.json)
//   BENCH_PEER=0       without PyTorch;  BENCH_THREADS=n  threads for both (default: all cores)
// Where the time of a case goes: npx tsx bench/profile.ts resnet18 squeeze (ORT profiler).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { countFlops } from "../gpu-cluster/graph/flops.ts";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { buildCase, CASES, hasCase, STEPS, type Step } from "./engine-cases.ts";

interface Peer {
  ms: number;
  peakRssMiB: number;
  torch: string;
  threads: number;
}
interface Result {
  model: string;
  step: Step;
  batch: number;
  ms: number;
  gflop: number;
  gflops: number;
  peakRssMiB: number;
  peer?: Peer;
}

const QUICK = process.env.BENCH_QUICK === "1";
if (QUICK) for (const c of Object.values(CASES)) Object.assign(c, { batch: Math.max(2, c.batch / 8), iters: 1 });
const THREADS = Number(process.env.BENCH_THREADS ?? availableParallelism());
const PYTHON = "/usr/bin/python3";
const PEER_SCRIPT = new URL("./pytorch-peer.py", import.meta.url).pathname;

/** Why the PyTorch peer cannot run, or null when it can. */
function peerMissing(): string | null {
  if (process.env.BENCH_PEER === "0") return "BENCH_PEER=0";
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  if (spawnSync(PYTHON, ["-c", "import torch, torchvision"]).status !== 0)
    return `${PYTHON} has no torch (apt-get install python3-torch python3-torchvision)`;
  return null;
}

function runPeer(model: string, step: Step): Peer {
  const { batch, iters } = CASES[model];
  const out = execFileSync(PYTHON, [PEER_SCRIPT, model, step, String(batch), String(iters), String(THREADS)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  return { ms: r.ms, peakRssMiB: r.peakRssMiB, torch: r.torch, threads: r.threads };
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
  const { batch, iters } = CASES[model];
  const { program, body } = await buildCase(model, step, { threads: THREADS });
  const ms = await timeIt(iters, body);
  const flop = countFlops(program.graph, { N: batch });
  return {
    model,
    step,
    batch,
    ms,
    gflop: flop / 1e9,
    gflops: flop / 1e9 / (ms / 1000),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const args = process.argv.slice(2);
if (args[0] === "--one") {
  process.stdout.write(JSON.stringify(await runOne(args[1], args[2] as Step)) + "\n");
} else {
  const missing = peerMissing();
  if (missing) process.stderr.write(`PyTorch peer skipped: ${missing}\n`);
  const results: Result[] = [];
  for (const model of Object.keys(CASES)) {
    for (const step of STEPS.filter((s) => hasCase(model, s))) {
      const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1], "--one", model, step], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const r = JSON.parse(out.trim().split("\n").at(-1)!) as Result;
      if (!missing && step !== "recover-turned") r.peer = runPeer(model, step); // no PyTorch form of it
      results.push(r);
      process.stderr.write(
        `${model} ${step}: ${r.ms.toFixed(1)} ms${r.peer ? `, PyTorch ${r.peer.ms.toFixed(1)} ms` : ""}\n`,
      );
    }
  }
  const rows = results.map((r) => {
    const fwd = results.find((q) => q.model === r.model && q.step === "forward")!.ms;
    return { ...r, ratio: r.ms / fwd };
  });
  const targets: Partial<Record<Step, number>> = { recover: 2.5, squeeze: 3.2 };
  const peerCols = missing ? "" : " PyTorch ms/iter | ours ÷ PyTorch | PyTorch peak RSS |";
  console.log(`| model | batch | step | ms/iter | × forward | target | GFLOP/iter | GFLOP/s | peak RSS |${peerCols}`);
  console.log(`|---|---:|---|---:|---:|---:|---:|---:|---:|${missing ? "" : "---:|---:|---:|"}`);
  for (const r of rows) {
    const peer = r.peer
      ? ` ${r.peer.ms.toFixed(1)} | ${(r.ms / r.peer.ms).toFixed(2)} | ${r.peer.peakRssMiB.toFixed(0)} MiB |`
      : "";
    console.log(
      `| ${r.model} | ${r.batch} | ${r.step} | ${r.ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${targets[r.step] ? `≤ ${targets[r.step]}` : ""} | ${r.gflop.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} MiB |${peer}`,
    );
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    ep: "cpu",
    threads: THREADS,
    torch: results[0]?.peer?.torch,
  };
  writeJsonAtomic(QUICK ? "bench/results/engine-quick.json" : "bench/results/engine.json", {
    date: new Date().toISOString(),
    quick: QUICK,
    machine,
    results: rows,
  });
}
