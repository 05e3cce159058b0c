// Every training graph on ORT's WebGPU EP against the CPU EP: squeeze step (CE, SGD, BN in
// training mode), student step (KL at T = 4), recover step (CE + BN statistics, Adam on the
// images, clipping) and relabel inference, on ConvNet, ResNet-18, ViT-Tiny and BN-ViT-Tiny at
// small shapes. On a machine without a GPU this runs on SwiftShader (a Vulkan driver on the CPU,
// from Debian's chromium package; runtime/webgpu-driver.ts finds it): a software GPU, slow, so
// shapes are tiny. Without any driver the file is skipped with the reason printed (fails under CI).
// Each graph's node placement is read from ORT's profile and printed; no node computing on float
// tensors may fall back to the CPU EP (shape arithmetic on int64 stays there by ORT's design).
// Tolerance: outputs and updated state within 1e-4 of the CPU EP, relative to each tensor's
// largest magnitude or 0.1, whichever is larger (float32; the two EPs sum in different orders).
// Squeeze steps use SGD with momentum as squeeze does; student steps AdamW as evaluate does, whose
// weights are held to 1e-3: Adam divides by √v, so a gradient that is zero but for rounding (a
// bias just before a BatchNorm) moves by up to lr on either EP, in a direction set by the noise.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tensor } from "../../gpu-cluster/graph/builder.ts";
import type { TensorData } from "../../gpu-cluster/graph/types.ts";
import { adamw, sgd } from "../../gpu-cluster/autodiff/optimizers.ts";
import { inferenceGraph } from "../../gpu-cluster/models/inference-graph.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../../gpu-cluster/models/zoo.ts";
import type { ExecutionProvider } from "../../gpu-cluster/runtime/execution-provider.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { describePlacement, placementFromProfile, type Placement } from "../../gpu-cluster/runtime/placement.ts";
import type { Program } from "../../gpu-cluster/runtime/program.ts";
import { chooseWebGpuDriver } from "../../gpu-cluster/runtime/webgpu-driver.ts";
import { RecoverStep, type RecoverStepConfig } from "../../gpu-cluster/stages/recover-step.ts";
import { ClassifierTrainer, oneHot, type ClassifierLoss } from "../../gpu-cluster/training/classifier.ts";
import { randn } from "../engine/gradcheck.ts";

const TOL = 1e-4;
const missing = (() => {
  try {
    chooseWebGpuDriver();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
})();
// Under CI (which installs chromium and libvulkan1) a missing driver is a failure, not a skip.
if (missing && process.env.CI !== "true") console.warn(`SKIPPED WebGPU EP tests: ${missing}`);
if (missing && process.env.CI === "true")
  it("WebGPU EP tests need SwiftShader or a GPU", () => {
    throw new Error(`${missing} (CI installs Debian's chromium and libvulkan1: see .ci/run)`);
  });

const N = 4,
  K = 4;
const SPECS: Record<string, ModelSpec> = {
  "convnet-2": { arch: "convnet-2", classes: K, channels: 1, size: 8, width: 4 },
  "convnet-in-2": { arch: "convnet-in-2", classes: K, channels: 1, size: 8, width: 4 },
  resnet18: { arch: "resnet18", classes: K, channels: 1, size: 8, width: 4 },
  "vit-tiny": { arch: "vit-tiny", classes: K, channels: 1, size: 8, width: 12, depth: 1 },
  "bn-vit-tiny": { arch: "bn-vit-tiny", classes: K, channels: 1, size: 8, width: 12, depth: 1 },
};
const x = tensor("float32", [N, 1, 8, 8], randn(N * 64, 11));
const labels = [0, 1, 2, 3];

const dir = mkdtempSync(join(tmpdir(), "distill-webgpu-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const placements: string[] = [];
afterAll(() => placements.length && console.log(`WebGPU node placement:\n  ${placements.join("\n  ")}`));

/** Largest |a − b| over the largest |b| (at least 0.1). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 0.1);
}

let profiles = 0;
/** The compile options of one EP; WebGPU's profile goes to a fresh prefix. */
function options(ep: ExecutionProvider): { ep: ExecutionProvider; threads: number; profilePrefix?: string } {
  return ep === "webgpu" ? { ep, threads: 1, profilePrefix: join(dir, `p${profiles++}`) } : { ep, threads: 1 };
}

/** Ends profiling of a WebGPU program and reads where its nodes ran. */
function placementOf(program: Program, prefix: string): Placement {
  program.session.endProfiling();
  const file = readdirSync(dir).find((f) => f.startsWith(prefix.split("/").pop()!) && f.endsWith(".json"));
  if (!file) throw new Error(`ORT wrote no profile for ${prefix}`);
  return placementFromProfile(join(dir, file));
}

/** Runs `steps` on both EPs; compares every output; checks and records WebGPU's placement. */
async function compare(
  name: string,
  stateTol: number,
  run: (ep: ExecutionProvider) => Promise<{ outputs: Record<string, ArrayLike<number>>; program: Program }>,
): Promise<void> {
  const cpu = await run("cpu");
  const prefix = join(dir, `p${profiles}`);
  const gpu = await run("webgpu");
  const placement = placementOf(gpu.program, prefix);
  placements.push(`${name}: ${describePlacement(placement)}`);
  for (const [k, want] of Object.entries(cpu.outputs)) {
    const d = relDiff(gpu.outputs[k], want);
    const tol = k.startsWith("state:") ? stateTol : TOL;
    expect(d, `${name}: ${k} differs from the CPU EP by ${d.toExponential(2)}`).toBeLessThan(tol);
  }
  expect(placement.byProvider.WebGpuExecutionProvider ?? 0).toBeGreaterThan(0);
  expect(placement.cpuFallbacks, `${name}: float nodes on the CPU EP`).toEqual({});
  await cpu.program.release();
  await gpu.program.release();
}

/** Two training steps of a classifier; the losses, the logits and every trained tensor after them. */
async function trainSteps(
  spec: ModelSpec,
  loss: ClassifierLoss,
  targets: TensorData,
  ep: ExecutionProvider,
  optimizer: "sgd" | "adamw",
) {
  const params = new ParamStore(2);
  const opt = optimizer === "sgd" ? sgd({ momentum: 0.9, weightDecay: 5e-4 }) : adamw({ weightDecay: 0.01 });
  const trainer = await ClassifierTrainer.compile(spec, params, { ...options(ep), optimizer: opt, loss });
  const lr = optimizer === "sgd" ? 0.1 : 1e-3;
  const first = await trainer.step(x, targets, lr);
  const second = await trainer.step(x, targets, lr);
  await trainer.syncParams();
  const outputs: Record<string, ArrayLike<number>> = {
    loss: [first.loss, second.loss],
    logits: second.logits,
  };
  for (const n of params.names()) outputs[`state:${n}`] = params.values.get(n)!.data as Float32Array;
  return { outputs, program: trainer.program };
}

describe.skipIf(missing !== null)("training graphs on the WebGPU EP match the CPU EP", () => {
  it(`adapter: ${missing ? "none" : chooseWebGpuDriver().description}`, () => {
    expect(process.env.VK_ICD_FILENAMES ?? "system").toBeTruthy();
  });

  for (const arch of ["convnet-2", "bn-vit-tiny"]) {
    it(`squeeze step, ${arch} (CE, SGD with momentum, BN in training mode)`, async () => {
      await compare(`squeeze ${arch}`, TOL, (ep) =>
        trainSteps(SPECS[arch], { kind: "cross_entropy" }, oneHot(labels, K), ep, "sgd"),
      );
    });
  }

  for (const arch of ["resnet18", "vit-tiny", "convnet-in-2"]) {
    it(`student step, ${arch} (KL at T = 4 on soft labels, AdamW)`, async () => {
      const soft = tensor(
        "float32",
        [N, K],
        randn(N * K, 5).map((v) => Math.exp(v)),
      );
      const d = soft.data as Float32Array;
      for (let i = 0; i < N; i++) {
        const row = d.subarray(i * K, (i + 1) * K);
        const s = row.reduce((a, v) => a + v, 0);
        row.forEach((v, j) => (row[j] = v / s));
      }
      await compare(`student ${arch}`, 1e-3, (ep) =>
        trainSteps(SPECS[arch], { kind: "kl", temperature: 4 }, soft, ep, "adamw"),
      );
    });
  }

  it("state stays on the GPU between steps and reads back as it would from the host", async () => {
    // The same three AdamW steps with the state on the device (the default) and on the host.
    const run = async (stateOnDevice: boolean) => {
      const params = new ParamStore(3);
      const trainer = await ClassifierTrainer.compile(SPECS["convnet-2"], params, {
        ep: "webgpu",
        threads: 1,
        stateOnDevice,
        optimizer: adamw({ weightDecay: 0.01 }),
      });
      const losses = [];
      for (let i = 0; i < 3; i++) losses.push((await trainer.step(x, oneHot(labels, K), 1e-2)).loss);
      const where = new Set(trainer.program.stateNames().map((n) => trainer.program.stateLocation(n)));
      await trainer.syncParams();
      await trainer.program.release();
      return { losses, where, params };
    };
    const device = await run(true);
    const host = await run(false);
    expect([...device.where]).toEqual(["gpu-buffer"]);
    expect([...host.where]).toEqual(["cpu"]);
    expect(device.losses).toEqual(host.losses);
    for (const n of host.params.names())
      expect(
        relDiff(device.params.values.get(n)!.data as Float32Array, host.params.values.get(n)!.data as Float32Array),
        n,
      ).toBe(0);
  });

  for (const arch of ["convnet-2", "bn-vit-tiny"]) {
    it(`recover step, ${arch} teacher (CE + BN statistics, Adam on the images, clip)`, async () => {
      const spec = SPECS[arch];
      const cfg: RecoverStepConfig = {
        ...{ batch: N, channels: 1, size: 8, cropSize: 8, classes: K, rBn: 0.05, firstBnMultiplier: 10 },
        ...{ beta1: 0.5, beta2: 0.9, lower: [-1], upper: [2] },
      };
      // A teacher with running statistics that are not (0, 1): one squeeze step on the CPU.
      const params = new ParamStore(4);
      const squeeze = await ClassifierTrainer.compile(spec, params, { optimizer: adamw({}), threads: 1 });
      await squeeze.step(x, oneHot(labels, K), 1e-2);
      await squeeze.syncParams();
      await squeeze.program.release();
      // Crop: rows shifted down by one (the last repeated), columns mirrored, as interpolation matrices.
      const rows = new Float32Array(8 * 8),
        colsT = new Float32Array(8 * 8);
      for (let i = 0; i < 8; i++) rows[i * 8 + Math.min(i + 1, 7)] = 1;
      for (let j = 0; j < 8; j++) colsT[(7 - j) * 8 + j] = 1;
      await compare(`recover ${arch}`, TOL, async (ep) => {
        const step = await RecoverStep.compile({ kind: "zoo", spec, params }, cfg, x, options(ep));
        const a = await step.step(rows, colsT, oneHot(labels, K), 0.05, cfg);
        const b = await step.step(rows, colsT, oneHot(labels, K), 0.05, cfg);
        const outputs: Record<string, ArrayLike<number>> = {
          losses: [a.loss, a.ce, a.bn, b.loss, b.ce, b.bn],
          logits: b.logits,
          "state:images": (await step.images()).data as Float32Array,
        };
        return { outputs, program: step.program };
      });
    });
  }

  for (const arch of ["resnet18", "bn-vit-tiny"]) {
    it(`relabel inference, ${arch} (frozen, BN in inference mode)`, async () => {
      const params = new ParamStore(6);
      await compare(`relabel ${arch}`, TOL, async (ep) => {
        const c = await Classifier.fromGraph(inferenceGraph(SPECS[arch], params), options(ep));
        return { outputs: { logits: await c.logits(x) }, program: c.program };
      });
    });
  }
});
