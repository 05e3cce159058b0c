// A new user's PyTorch teacher (issue 11): a BatchNorm CNN exported with a plain
// torch.onnx.export(model.eval(), ...) has its BN folded into the convolutions and is refused
// with the export call that works; exported with BN kept (TrainingMode.PRESERVE, no constant
// folding, dynamic batch) it is accepted and recover runs on it; with BN kept but a fixed
// batch, recover says to make the batch dynamic. Models come from scripts/pytorch-fixtures.py.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../gpu-cluster/graph/builder.ts";
import { RecoverStep } from "../../gpu-cluster/stages/recover-step.ts";
import { readTeacherFile } from "../../gpu-cluster/stages/teacher-file.ts";
import { oneHot } from "../../gpu-cluster/training/classifier.ts";
import { FIXTURE_SCRIPT, INSTALL_HINT, runPython, torchGate } from "../engine/pytorch.ts";

const root = join(process.cwd(), "test-output", "pytorch-teacher");
const file = (mode: string) => join(root, `${mode}.onnx`);
const gate = torchGate("PyTorch teacher export tests");
const EXPORT_CALL = "training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False";

if (gate.failInCi) {
  it("PyTorch teacher export tests need PyTorch", () => {
    throw new Error(`${gate.missing}: under CI these tests must run; ${INSTALL_HINT}`);
  });
}

/** One recover step on the teacher file at batch 3 (the exports were traced at batch 2). */
async function recoverOnce(path: string) {
  const tf = readTeacherFile(path);
  const [C, H] = tf.inputShape;
  const cfg = {
    batch: 3,
    channels: C,
    size: H,
    cropSize: H,
    classes: tf.classes,
    rBn: 0.01,
    firstBnMultiplier: 10,
    beta1: 0.5,
    beta2: 0.9,
    lower: Array(C).fill(-3),
    upper: Array(C).fill(3),
  };
  const init = tensor(
    "float32",
    [3, C, H, H],
    Float32Array.from({ length: 3 * C * H * H }, (_, i) => Math.sin(i)),
  );
  const step = await RecoverStep.compile({ kind: "onnx", bytes: tf.bytes, file: tf.file }, cfg, init);
  const eye = new Float32Array(H * H);
  for (let i = 0; i < H; i++) eye[i * H + i] = 1;
  const r = await step.step(eye, eye, oneHot([0, 1, 2], tf.classes), 0.1, cfg);
  await step.release();
  return { r, bnLayers: step.bnLayers };
}

describe.skipIf(gate.missing !== null)("a PyTorch-exported BN CNN as the teacher", () => {
  beforeAll(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    for (const mode of ["plain", "preserve", "preserve-fixed-batch"])
      runPython([FIXTURE_SCRIPT, "tiny-cnn", mode, file(mode)], 120_000);
  }, 300_000);

  it("plain torch.onnx.export(model.eval(), ...): refused, naming the folding and the export call that works", () => {
    let message = "";
    try {
      readTeacherFile(file("plain"));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/no BatchNormalization layer/);
    expect(message).toMatch(/plain torch\.onnx\.export\(model\.eval\(\), \.\.\.\)/);
    expect(message).toMatch(/folded every BatchNorm into the convolution/);
    expect(message).toContain(EXPORT_CALL);
    expect(message).toContain('dynamic_axes={"input": {0: "batch"}');
    expect(message).toContain("docs/pytorch.md");
  });

  it("distill run --teacher with the plain export stops with that message", () => {
    const r = spawnSync(
      join(process.cwd(), "node_modules", ".bin", "tsx"),
      ["gpu-cluster/cli/distill.ts", "run", "--teacher", file("plain"), "--out", join(root, "run"), "--quiet"],
      { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no BatchNormalization layer/);
    expect(r.stderr).toContain(EXPORT_CALL);
  }, 120_000);

  it("the PRESERVE export is accepted and recover runs on it at another batch size", async () => {
    const tf = readTeacherFile(file("preserve"));
    expect(tf.inputShape).toEqual([1, 8, 8]);
    expect(tf.classes).toBe(10);
    const { r, bnLayers } = await recoverOnce(file("preserve"));
    expect(bnLayers).toBe(2);
    expect(Number.isFinite(r.loss) && r.bn > 0).toBe(true);
  });

  it("BN kept but a fixed batch: recover at another batch size says to export a dynamic batch", async () => {
    expect(() => readTeacherFile(file("preserve-fixed-batch"))).not.toThrow();
    await expect(recoverOnce(file("preserve-fixed-batch"))).rejects.toThrow(
      /fixed batch size: export it with a dynamic batch, torch.onnx.export\(..., dynamic_axes=/,
    );
  });
});
