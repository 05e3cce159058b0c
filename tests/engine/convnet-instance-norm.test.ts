// ConvNet-D with InstanceNorm (DC's ConvNet, `--students convnet-in-D`) against PyTorch in float64:
// logits, loss and every gradient of the train-mode graph, for random weights and inputs.
// Finite differences are a poor judge here: InstanceNorm over a 4×4 map makes the loss strongly
// curved, so central differences at any usable step disagree with the exact gradient by several
// percent (the BatchNorm ConvNet's finite-difference check is in model-gradients.test.ts).
// The convs have no bias: InstanceNorm's mean subtraction would cancel it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { gradients } from "../../gpu-cluster/autodiff/gradients.ts";
import { ModelBuilder } from "../../gpu-cluster/models/layers.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import { buildModel } from "../../gpu-cluster/models/zoo.ts";
import { randn } from "./gradcheck.ts";
import { INSTALL_HINT, relError, runPython, torchGate } from "./pytorch.ts";

const gate = torchGate("ConvNet InstanceNorm against PyTorch");
const dir = mkdtempSync(join(tmpdir(), "convnet-in-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// PyTorch's ConvNet-D with GroupNorm(C, C) (DC's instancenorm), in float64, from the dumped weights.
const TORCH = `
import json, sys, torch
import torch.nn.functional as F
d = json.load(open(sys.argv[1]))
t = lambda k: torch.tensor(d["values"][k], dtype=torch.float64).reshape(d["shapes"][k]).requires_grad_(True)
x, P = t("x"), {k: t(k) for k in d["params"]}
h = x
for i in range(d["depth"]):
    h = F.conv2d(h, P[f"features.{i}.conv.weight"], None, padding=1)
    h = F.group_norm(h, h.shape[1], P[f"features.{i}.norm.weight"], P[f"features.{i}.norm.bias"], eps=1e-5)
    h = F.avg_pool2d(F.relu(h), 2)
y = h.flatten(1) @ P["classifier.weight"].T + P["classifier.bias"]
loss = (y * torch.tensor(d["r"], dtype=torch.float64).reshape(y.shape)).sum()
loss.backward()
out = {"loss": loss.item(), "logits": y.flatten().tolist(), "grads": {k: v.grad.flatten().tolist() for k, v in [("x", x)] + list(P.items())}}
print(json.dumps(out))
`;

async function compare(depth: number, shape: number[], seed: number) {
  const classes = 5;
  const params = new ParamStore(seed);
  const b = new GraphBuilder("convnet-in");
  const x = b.input("x", "float32", shape);
  const spec = { arch: `convnet-in-${depth}`, classes, channels: shape[1], size: shape[2], width: 6 };
  const logits = buildModel(new ModelBuilder(b, params, "train"), x, spec);
  const r = randn(shape[0] * classes, seed + 101);
  const loss = b.reduceSum(b.mul(logits, b.constant(tensor("float32", [shape[0], classes], r))), [0, 1], false);
  b.output(loss, "loss");
  b.output(logits, "logits");
  const inputs = b.graph.inputs;
  gradients(b, loss, inputs).forEach((g, i) => b.output(g, `grad:${inputs[i].name}`));
  const session = await ort.InferenceSession.create(serializeModel(b.graph));
  const values: Record<string, number[]> = {
    x: Array.from(
      Float32Array.from(
        randn(
          shape.reduce((p, d) => p * d, 1),
          seed,
        ),
      ),
    ),
  };
  const shapes: Record<string, number[]> = { x: shape };
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor("float32", Float32Array.from(values.x), shape) };
  for (const v of inputs.slice(1)) {
    const data = params.values.get(v.name)!.data as Float32Array;
    values[v.name] = Array.from(data);
    shapes[v.name] = v.shape as number[];
    feeds[v.name] = new ort.Tensor("float32", data, v.shape as number[]);
  }
  const ours = await session.run(feeds);
  await session.release();
  const file = join(dir, `case-${depth}-${seed}.json`);
  writeFileSync(
    file,
    JSON.stringify({ depth, r: Array.from(r), params: Object.keys(values).slice(1), values, shapes }),
  );
  const ref = JSON.parse(runPython(["-c", TORCH, file])) as {
    loss: number;
    logits: number[];
    grads: Record<string, number[]>;
  };
  expect(Math.abs(Number(ours.loss.data[0]) - ref.loss) / Math.max(Math.abs(ref.loss), 1e-3)).toBeLessThan(1e-4);
  expect(relError(ours.logits.data as Float32Array, ref.logits)).toBeLessThan(1e-4);
  expect(Object.keys(values).filter((n) => n.includes("bias"))).toEqual(
    Array.from({ length: depth }, (_, i) => `features.${i}.norm.bias`).concat("classifier.bias"),
  );
  for (const [name, want] of Object.entries(ref.grads)) {
    const got = ours[`grad:${name}`].data as Float32Array;
    expect(relError(got, want), `${name} (depth ${depth}, seed ${seed})`).toBeLessThan(1e-4);
  }
}

if (gate.failInCi) {
  it("ConvNet InstanceNorm against PyTorch needs PyTorch", () => {
    throw new Error(`${gate.missing}: under CI this test must run; ${INSTALL_HINT}`);
  });
}

describe.skipIf(gate.missing !== null)("ConvNet with InstanceNorm against PyTorch (float64)", () => {
  it("depth 2 on 8×8 grayscale and depth 3 on 16×16 colour, three seeds each: logits, loss, every gradient", async () => {
    for (const seed of [1, 2, 3]) {
      await compare(2, [4, 1, 8, 8], seed);
      await compare(3, [3, 3, 16, 16], seed);
    }
  }, 120_000);
});
