// `npm run gpu:check`: the CUDA execution provider on an NVIDIA machine, against PyTorch.
//
//   npm run gpu:check [-- --batches 32,100 --steps 10 --ort-dir .dev/gpu-ort]
//
// 1. Finds the GPU (nvidia-smi) or stops, saying this needs one.
// 2. Sets up ORT with CUDA in --ort-dir (git-ignored .dev/): onnxruntime-node 1.29.0 plus the CUDA
//    provider libraries of npm's com.github.asus4.onnxruntime.linux-x64-gpu 0.4.9 (ORT 1.29, CUDA 13,
//    cuDNN 9) placed beside its libonnxruntime.so.1; skipped when already there (a machine without
//    registry access: stage that folder by hand). CUDA 13 / cuDNN 9 libraries come from the system
//    or from PyTorch's pip wheels (site-packages/nvidia/*/lib), put on LD_LIBRARY_PATH.
// 3. For ResNet-18 at 224 px, 1000 classes (random weights: time and memory do not depend on
//    them), the recover step and the squeeze step at each batch size, in a child process each:
//    ours on the CUDA EP, then PyTorch's same step (bench/pytorch-peer.py on cuda) where
//    /usr/bin/python3 or python3 imports torch with CUDA. Median ms per step after 2 warm-up
//    steps; peak GPU memory of the process from nvidia-smi (sampled every 100 ms), both sides
//    measured the same way. Prints one table (and writes it as JSON to .dev/gpu-check.json).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Command } from "commander";
import { int, intList } from "../gpu-cluster/cli/number-args.ts";

const ORT_VERSION = "1.29.0";
const PROVIDER_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9";
const PROVIDER_LIBS = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"];

const cli = new Command("gpu-check")
  .option("--batches <list>", "batch sizes", intList("--batches", 1), [32, 100])
  .option("--steps <n>", "timed steps per case", int("--steps", 1), 10)
  .option("--ort-dir <dir>", "where ORT with the CUDA provider is set up", ".dev/gpu-ort")
  .option("--child <case>", "internal: run one case of ours (recover|squeeze:batch) and print JSON")
  .parse();
const o = cli.opts<{ batches: number[]; steps: number; ortDir: string; child?: string }>();

const ortPackage = (dir: string) => resolve(dir, "node_modules", "onnxruntime-node");
const ortLibDir = (dir: string) => join(ortPackage(dir), "bin", "napi-v6", "linux", "x64");

// ---- child: one case of ours on the CUDA EP ---------------------------------------------------
if (o.child) {
  const [step, batchText] = o.child.split(":");
  const mod = (await import(join(ortPackage(o.ortDir), "dist", "index.js"))) as { default?: unknown };
  const ort = (mod.default ?? mod) as typeof import("onnxruntime-node");
  const backend = {
    Tensor: ort.Tensor,
    openSession: (model: Uint8Array) =>
      ort.InferenceSession.create(model, {
        executionProviders: [{ name: "cuda", deviceId: 0 }],
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
      }),
  };
  const { CASES, buildCase } = await import("../bench/engine-cases.ts");
  CASES.resnet18 = { ...CASES.resnet18, batch: Number(batchText) };
  const { body } = await buildCase("resnet18", step as "recover" | "squeeze", { backend });
  for (let i = 0; i < 2; i++) await body();
  const times: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    await body(); // each run returns its outputs on the host: the step is complete
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ ms: times[times.length >> 1], ort: ort.env.versions.common }) + "\n");
  process.exit(0);
}

// ---- parent -------------------------------------------------------------------------------------
function gpuName(): string {
  try {
    return execFileSync("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], {
      encoding: "utf8",
    }).trim();
  } catch {
    process.stderr.write(
      "gpu:check needs an NVIDIA GPU: nvidia-smi is missing or found no GPU on this machine. Nothing was measured.\n",
    );
    process.exit(2);
  }
}

/** Files named `name` under `dir` (depth-first). */
function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? findFiles(p, name) : f === name ? [p] : [];
  });
}

function setUpOrt(dir: string): void {
  const libDir = ortLibDir(dir);
  if (PROVIDER_LIBS.every((l) => existsSync(join(libDir, l)))) return;
  process.stderr.write(`setting up ORT ${ORT_VERSION} with the CUDA provider in ${dir} (npm install)…\n`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    "npm",
    ["install", "--prefix", dir, "--no-save", "--ignore-scripts", `onnxruntime-node@${ORT_VERSION}`, PROVIDER_PACKAGE],
    { stdio: "inherit", env: { ...process.env, npm_config_onnxruntime_node_install: "skip" } },
  );
  if (r.status !== 0)
    throw new Error(
      `npm install failed; on a machine without registry access, stage ${dir}/node_modules/onnxruntime-node ` +
        `(${ORT_VERSION}) with ${PROVIDER_LIBS.join(" and ")} from ${PROVIDER_PACKAGE} beside its libonnxruntime.so.1`,
    );
  for (const lib of PROVIDER_LIBS) {
    const found = findFiles(join(dir, "node_modules", "com.github.asus4.onnxruntime.linux-x64-gpu"), lib)[0];
    if (!found) throw new Error(`${PROVIDER_PACKAGE} has no ${lib}`);
    copyFileSync(found, join(libDir, lib));
  }
}

/** A Python with torch, and whether it sees CUDA; null when none imports torch. */
function torchPython(): { python: string; cuda: boolean; libDirs: string[] } | null {
  for (const python of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(
      python,
      [
        "-c",
        "import torch, os, glob, json; import importlib.util as u; s = u.find_spec('nvidia');" +
          "d = [p for n in (s.submodule_search_locations if s else []) for p in glob.glob(os.path.join(n, '*', 'lib'))];" +
          "print(json.dumps({'cuda': torch.cuda.is_available(), 'libs': d}))",
      ],
      { encoding: "utf8" },
    );
    if (r.status === 0) {
      const j = JSON.parse(r.stdout) as { cuda: boolean; libs: string[] };
      return { python, cuda: j.cuda, libDirs: j.libs };
    }
  }
  return null;
}

/** Runs a command, sampling its GPU memory (MiB, nvidia-smi per process) until it exits. */
async function measured(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ out: string; peakMiB: number }> {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "",
    peak = 0;
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setInterval(() => {
    try {
      const rows = execFileSync(
        "nvidia-smi",
        ["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
        {
          encoding: "utf8",
        },
      );
      for (const row of rows.trim().split("\n")) {
        const [pid, mib] = row.split(",").map((s) => Number(s.trim()));
        if (pid === child.pid) peak = Math.max(peak, mib);
      }
    } catch {
      /* nvidia-smi busy: skip this sample */
    }
  }, 100);
  const code = await new Promise<number>((res) => child.on("exit", (c) => res(c ?? 1)));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${code}`);
  return { out, peakMiB: peak };
}

const gpu = gpuName();
setUpOrt(o.ortDir);
const torch = torchPython();
const libDirs = [ortLibDir(o.ortDir), ...(torch?.libDirs ?? [])];
const env = { ...process.env, LD_LIBRARY_PATH: [...libDirs, process.env.LD_LIBRARY_PATH ?? ""].join(":") };
const rows: Record<string, unknown>[] = [];
for (const step of ["recover", "squeeze"]) {
  for (const batch of o.batches) {
    const ours = await measured(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/gpu-check.ts",
        "--child",
        `${step}:${batch}`,
        "--steps",
        `${o.steps}`,
        "--ort-dir",
        o.ortDir,
      ],
      env,
    );
    const oursJson = JSON.parse(ours.out.trim().split("\n").pop()!) as { ms: number; ort: string };
    let peer: { ms: number; peakMiB: number; torch: string } | null = null;
    if (torch?.cuda) {
      const peerArgs = ["resnet18", step, `${batch}`, `${o.steps}`, `${availableParallelism()}`, "cuda"];
      const t = await measured(torch.python, ["bench/pytorch-peer.py", ...peerArgs], env);
      const j = JSON.parse(t.out.trim().split("\n").pop()!) as { ms: number; torch: string };
      peer = { ms: j.ms, peakMiB: t.peakMiB, torch: j.torch };
    }
    const row = { step, batch, ms: oursJson.ms, peakMiB: ours.peakMiB, ort: oursJson.ort, peer };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
}

const fmt = (n: number | undefined, d = 1) => (n === undefined ? "–" : n.toFixed(d));
console.log(
  `\nResNet-18, 224 px, 1000 classes on ${gpu}; CUDA EP (ORT ${ORT_VERSION}) vs PyTorch, ${o.steps} steps, median`,
);
console.log("| step | batch | ours ms/step | ours peak MiB | PyTorch ms/step | PyTorch peak MiB |");
console.log("| --- | --: | --: | --: | --: | --: |");
for (const r of rows as {
  step: string;
  batch: number;
  ms: number;
  peakMiB: number;
  peer: { ms: number; peakMiB: number } | null;
}[])
  console.log(
    `| ${r.step} | ${r.batch} | ${fmt(r.ms)} | ${r.peakMiB} | ${fmt(r.peer?.ms)} | ${r.peer ? r.peer.peakMiB : "–"} |`,
  );
if (!torch?.cuda)
  console.log(torch ? "PyTorch is there but sees no CUDA device: no peer figures." : "No PyTorch: no peer figures.");
mkdirSync(dirname(".dev/gpu-check.json"), { recursive: true });
writeFileSync(".dev/gpu-check.json", JSON.stringify({ gpu, date: new Date().toISOString(), rows }, null, 1));
