// Student step time per execution provider: one `evaluate` student step (KL at T = 4 on soft
// labels, AdamW) at the recipe's batch (50) on 28 × 28 × 1, 10 classes, for a ConvNet-3 (width
// 32), its InstanceNorm form (convnet-in-3) and a ResNet-18 (small-image stem, 64 base planes), on
// the CPU EP and on the WebGPU EP with the state kept on the GPU (the default) and on the host
// (every step uploads the weights and optimiser moments and downloads them again). Median ms of
// --steps steps after 3 warm-up steps (the loss after the first and after the last step are
// printed: the EPs must agree), each case in turn in one process. Prints a table and writes bench/results/student-step-ep.json
// (or --out FILE).
//
//   npx tsx bench/student-step-ep.bench.ts [--eps cpu,webgpu] [--archs convnet-3,convnet-in-3,resnet18] [--steps 20] [--threads N]
//
// By default WebGPU is measured only on a GPU: SwiftShader (a software GPU) would take hours for
// the ResNet-18 and says nothing about speed; --eps cpu,webgpu forces it.
import { Command, InvalidArgumentError } from "commander";
import { tensor } from "../gpu-cluster/graph/builder.ts";
import { writeJsonAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { adamw } from "../gpu-cluster/autodiff/optimizers.ts";
import { ParamStore } from "../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../gpu-cluster/models/zoo.ts";
import { chooseWebGpuDriver } from "../gpu-cluster/runtime/webgpu-driver.ts";
import { ClassifierTrainer } from "../gpu-cluster/training/classifier.ts";
import { int } from "../gpu-cluster/cli/number-args.ts";
import { machine } from "../scripts/provenance.ts";

const EPS = ["cpu", "webgpu"];
const SPECS: Record<string, ModelSpec> = {
  "convnet-3": { arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 32 },
  "convnet-in-3": { arch: "convnet-in-3", classes: 10, channels: 1, size: 28, width: 32 },
  resnet18: { arch: "resnet18", classes: 10, channels: 1, size: 28, width: 64 },
};
/** A comma-separated list of names from `allowed`, refused otherwise. */
const list = (flag: string, allowed: string[]) => (v: string) => {
  const names = v.split(",").filter(Boolean);
  const bad = names.find((n) => !allowed.includes(n));
  if (bad || !names.length) throw new InvalidArgumentError(`${flag}: choose from ${allowed.join(", ")}, got '${v}'`);
  return names;
};
const o = new Command("student-step-ep")
  .option(
    "--eps <list>",
    "execution providers (cpu, webgpu; default: cpu, and webgpu where a GPU drives it)",
    list("--eps", EPS),
  )
  .option("--archs <list>", "students", list("--archs", Object.keys(SPECS)), Object.keys(SPECS))
  .option("--steps <n>", "timed steps per case", int("--steps", 1), 20)
  .option("--batch <n>", "batch size", int("--batch", 1), 50)
  .option("--threads <n>", "CPU EP intra-op threads (default: ORT's choice)", int("--threads", 1))
  .option("--out <file>", "JSON results", "bench/results/student-step-ep.json")
  .parse()
  .opts<{ eps?: string[]; archs: string[]; steps: number; batch: number; threads?: number; out: string }>();

const B = o.batch;
const x = tensor(
  "float32",
  [B, 1, 28, 28],
  Float32Array.from({ length: B * 784 }, (_, i) => Math.sin(i * 0.37)),
);
const soft = tensor(
  "float32",
  [B, 10],
  Float32Array.from({ length: B * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 0.91 : 0.01)),
);

let eps = o.eps;
if (!eps) {
  let gpu = false;
  try {
    gpu = !/swiftshader/i.test(chooseWebGpuDriver().description);
  } catch {
    /* no WebGPU driver at all */
  }
  eps = gpu ? ["cpu", "webgpu"] : ["cpu"];
  if (!gpu)
    console.log(
      "WebGPU not measured: no GPU drives it here (SwiftShader is a software GPU); --eps cpu,webgpu forces it",
    );
}
const cases: { ep: string; state?: "device" | "host" }[] = eps.flatMap((ep) =>
  ep === "webgpu"
    ? [
        { ep, state: "device" as const },
        { ep, state: "host" as const },
      ]
    : [{ ep }],
);
const adapter = eps.includes("webgpu") ? chooseWebGpuDriver().description : null;
if (adapter) console.log(`WebGPU adapter: ${adapter}`);
const rows: Record<string, unknown>[] = [];
for (const arch of o.archs) {
  const spec = SPECS[arch];
  for (const c of cases) {
    const t0 = performance.now();
    const trainer = await ClassifierTrainer.compile(spec, new ParamStore(0), {
      ep: c.ep as "cpu" | "webgpu",
      threads: c.ep === "cpu" ? o.threads : 1,
      stateOnDevice: c.state !== "host",
      optimizer: adamw({ weightDecay: 0.01 }),
      loss: { kind: "kl", temperature: 4 },
    });
    const compileMs = performance.now() - t0;
    // The same initial weights (ParamStore seed 0) on every EP: the first loss must agree to rounding.
    const firstLoss = (await trainer.step(x, soft, 1e-3)).loss;
    for (let i = 0; i < 2; i++) await trainer.step(x, soft, 1e-3);
    const times: number[] = [];
    let loss = 0;
    for (let i = 0; i < o.steps; i++) {
      const s = performance.now();
      loss = (await trainer.step(x, soft, 1e-3)).loss; // the loss is on the host: the step is complete
      times.push(performance.now() - s);
    }
    await trainer.program.release();
    times.sort((a, b) => a - b);
    const ms = times[times.length >> 1];
    const row = {
      arch,
      ep: c.ep,
      state: c.state ?? "host",
      batch: B,
      ms,
      steps_per_s: 1000 / ms,
      compileMs,
      firstLoss,
      loss,
    };
    rows.push(row);
    console.log(
      `${arch.padEnd(10)} ${c.ep.padEnd(7)} state ${row.state.padEnd(7)} ${ms.toFixed(1).padStart(8)} ms/step  ` +
        `${row.steps_per_s.toFixed(1).padStart(6)} steps/s  (session ${(compileMs / 1000).toFixed(1)} s, loss ${firstLoss.toFixed(5)} → ${loss.toFixed(5)})`,
    );
  }
}
writeJsonAtomic(o.out, { machine: machine(), webgpu: adapter, date: new Date().toISOString(), steps: o.steps, rows });
