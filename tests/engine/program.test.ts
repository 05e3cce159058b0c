// Program: state threaded from outputs to inputs, and the caller's arrays left alone. ORT 1.30's
// CPU BatchNormalization in training mode writes the updated running statistics into its
// mean/var *input* buffers when those outputs are not requested: a fed array is not read-only.
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import type { Value } from "../../gpu-cluster/graph/types.ts";
import { Program } from "../../gpu-cluster/runtime/program.ts";

const x = tensor(
  "float32",
  [4, 3, 2, 2],
  Array.from({ length: 48 }, (_, i) => Math.sin(i) * 3 + 1),
);
const f32 = (data: Float32Array) => ({ dtype: "float32" as const, shape: [data.length], data });

/** BN in training mode on inputs x, mean, var; `statsOut` says whether its running-stat outputs are graph outputs. */
function bnGraph(statsOut: boolean) {
  const b = new GraphBuilder("bn_train");
  const xi = b.input("x", "float32", [4, 3, 2, 2]);
  const m = b.input("mean", "float32", [3]);
  const v = b.input("var", "float32", [3]);
  const [y, newMean, newVar] = b.op(
    "BatchNormalization",
    [xi, b.constant(tensor("float32", [3], [1, 1, 1])), b.constant(tensor("float32", [3], [0, 0, 0])), m, v],
    { epsilon: 1e-5, momentum: 0.9, training_mode: 1 },
  );
  b.output(y, "y");
  if (statsOut) {
    b.output(newMean, "new_mean");
    b.output(newVar, "new_var");
  }
  return { b, m, v, newMean, newVar };
}

describe("Program", () => {
  it("ORT writes BN running statistics into the fed buffers when they are not requested (why compile copies)", async () => {
    const { b } = bnGraph(false);
    const p = await Program.compile(b.graph, []);
    const mean = Float32Array.from([0, 0, 0]);
    await p.run({ x, mean: f32(mean), var: f32(Float32Array.from([1, 1, 1])) });
    await p.release();
    // If this starts failing, ORT stopped writing into its inputs: the copy in compile stays harmless.
    expect(Array.from(mean)).not.toEqual([0, 0, 0]);
  });

  it("state: the arrays handed to compile (and setState) stay as they were", async () => {
    for (const statsOut of [true, false]) {
      const { b, m, v, newMean, newVar } = bnGraph(statsOut);
      // with the stats requested they are the next state; without, the state carries itself over
      const next = (out: Value, input: Value) => (statsOut ? out : b.op1("Identity", [input]));
      const mean = Float32Array.from([0, 0, 0]);
      const variance = Float32Array.from([1, 1, 1]);
      const p = await Program.compile(b.graph, [
        { input: m, output: next(newMean, m), init: f32(mean) },
        { input: v, output: next(newVar, v), init: f32(variance) },
      ]);
      for (let i = 0; i < 3; i++) await p.run({ x });
      const reset = Float32Array.from([0, 0, 0]);
      p.setState("mean", f32(reset));
      await p.run({ x });
      if (statsOut) expect(Array.from((await p.getState("mean")).data as Float32Array).some((e) => e !== 0)).toBe(true); // the state did move
      expect(Array.from(mean), `statsOut ${statsOut}`).toEqual([0, 0, 0]);
      expect(Array.from(variance), `statsOut ${statsOut}`).toEqual([1, 1, 1]);
      expect(Array.from(reset), `statsOut ${statsOut}`).toEqual([0, 0, 0]);
      await p.release();
    }
  });
});

describe("ORT backend", () => {
  it("runs on the backend passed in CompileOptions (onnxruntime-web's would go here)", async () => {
    const { nodeBackend } = await import("../../gpu-cluster/runtime/node-backend.ts");
    let opened = 0;
    const backend = {
      ...nodeBackend,
      openSession: (model: Uint8Array, o: object) => (opened++, nodeBackend.openSession(model, o)),
    };
    const b = new GraphBuilder("neg");
    b.output(b.neg(b.input("x", "float32", [2])), "y");
    const p = await Program.compile(b.graph, [], { backend });
    const out = await p.run({ x: tensor("float32", [2], [1, -2]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([-1, 2]);
    expect(opened).toBe(1);
    await p.release();
  });
});
