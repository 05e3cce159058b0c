// ONNX import: zoo models exported and imported back give the native logits; older-opset
// forms are rewritten; gradients flow through an imported model; bad files fail with errors
// that name the node and the problem.
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { GraphError } from "../../gpu-cluster/graph/errors.ts";
import { importOnnx } from "../../gpu-cluster/graph/onnx-import.ts";
import { onnx } from "../../gpu-cluster/graph/onnx-proto.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../../gpu-cluster/models/zoo.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { exportOnnx, inferenceGraph } from "../../gpu-cluster/models/inference-graph.ts";
import { checkGradient, MODEL_EPS, randn, TOLERANCE } from "./gradcheck.ts";

function input(spec: ModelSpec, n: number, seed: number) {
  return tensor(
    "float32",
    [n, spec.channels, spec.size, spec.size],
    Float32Array.from(randn(n * spec.channels * spec.size * spec.size, seed)),
  );
}

async function importedLogits(bytes: Uint8Array, x: ReturnType<typeof input>) {
  const b = new GraphBuilder("imported");
  const inp = b.input("x", "float32", ["N", ...x.shape.slice(1)]);
  const m = importOnnx(b, bytes, { inputs: [inp], scope: "teacher" });
  b.output(m.outputs[0], "logits");
  const clf = await Classifier.fromGraph(b.graph);
  return { logits: await clf.logits(x), model: m };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("ONNX import of zoo models", () => {
  it.each([
    [{ arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 8 }, 3],
    [{ arch: "resnet18", classes: 7, channels: 3, size: 32, width: 8 }, 20],
    [{ arch: "resnet50", classes: 5, channels: 3, size: 32, width: 4 }, 53],
  ] as [ModelSpec, number][])("%o: same logits as native, every BN layer found", async (spec, bnCount) => {
    const params = new ParamStore(11);
    const native = await Classifier.fromGraph(inferenceGraph(spec, params));
    const x = input(spec, 3, 5);
    const want = await native.logits(x);
    const bytes = exportOnnx(spec, params);
    // A fresh ORT session on the exported file agrees with the native program …
    const session = await ort.InferenceSession.create(bytes);
    const viaOrt = (
      await session.run({
        [session.inputNames[0]]: new ort.Tensor("float32", x.data as Float32Array, x.shape as number[]),
      })
    )[session.outputNames[0]].data as Float32Array;
    expect(maxDiff(viaOrt, want)).toBeLessThan(1e-5);
    // … and so does the model imported back into our IR.
    const { logits, model } = await importedLogits(bytes, x);
    expect(maxDiff(logits, want)).toBeLessThan(1e-5);
    expect(model.batchNorms).toHaveLength(bnCount);
    expect(model.opset).toBe(18);
  });

  it("gradients through an imported ConvNet match finite differences", async () => {
    const spec: ModelSpec = { arch: "convnet-2", classes: 3, channels: 1, size: 8, width: 4 };
    const bytes = exportOnnx(spec, new ParamStore(2));
    const r = await checkGradient({
      name: "imported convnet",
      ops: [],
      dtype: "float32",
      eps: MODEL_EPS,
      inputs: [{ shape: [4, 1, 8, 8] }],
      build: (b, [x]) => importOnnx(b, bytes, { inputs: [x], scope: "t" }).outputs[0],
    });
    expect(r.maxRelError).toBeLessThan(TOLERANCE.float32Model);
  });
});

/** A hand-built model in opset-13 forms: ReduceMean with an axes attribute, Unsqueeze with an axes input, Gemm transB. */
function opset13Model(opset = 13): Uint8Array {
  const T = onnx.AttributeProto.AttributeType;
  const w = Float32Array.from({ length: 15 }, (_, i) => (i - 7) / 10);
  const bias = Float32Array.from([0.1, -0.2, 0.3, 0, 0.5]);
  const raw = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    producerName: "test",
    graph: {
      name: "g",
      input: [
        {
          name: "x",
          type: {
            tensorType: {
              elemType: 1,
              shape: { dim: [{ dimParam: "N" }, { dimValue: 3 }, { dimValue: 4 }, { dimValue: 4 }] },
            },
          },
        },
      ],
      output: [
        { name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "N" }, { dimValue: 5 }] } } } },
      ],
      initializer: [
        { name: "W", dims: [5, 3], dataType: 1, rawData: raw(w) },
        { name: "B", dims: [5], dataType: 1, rawData: raw(bias) },
        { name: "axes", dims: [1], dataType: 7, int64Data: [2] },
      ],
      node: [
        {
          name: "mean",
          opType: "ReduceMean",
          input: ["x"],
          output: ["m"],
          attribute: [
            { name: "axes", type: T.INTS, ints: [2, 3] },
            { name: "keepdims", type: T.INT, i: 0 },
          ],
        },
        { name: "unsq", opType: "Unsqueeze", input: ["m", "axes"], output: ["u"] },
        {
          name: "flat",
          opType: "Flatten",
          input: ["u"],
          output: ["f"],
          attribute: [{ name: "axis", type: T.INT, i: 1 }],
        },
        {
          name: "fc",
          opType: "Gemm",
          input: ["f", "W", "B"],
          output: ["g"],
          attribute: [{ name: "transB", type: T.INT, i: 1 }],
        },
        { name: "act", opType: "Relu", input: ["g"], output: ["y"] },
      ],
    },
  }).finish();
}

describe("ONNX import of older opset forms", () => {
  it("rewrites opset-13 ReduceMean/Unsqueeze/Gemm and computes the same function", async () => {
    const x = tensor("float32", [2, 3, 4, 4], Float32Array.from(randn(96, 3)));
    const b = new GraphBuilder("g");
    const inp = b.input("x", "float32", ["N", 3, 4, 4]);
    const m = importOnnx(b, opset13Model(), { inputs: [inp] });
    expect(m.opset).toBe(13);
    b.output(m.outputs[0], "y");
    const got = await (await Classifier.fromGraph(b.graph)).logits(x);
    // Host reference: y = relu(mean_hw(x) · Wᵀ + b)
    const w = Array.from({ length: 15 }, (_, i) => (i - 7) / 10),
      bias = [0.1, -0.2, 0.3, 0, 0.5];
    const xd = x.data as Float32Array;
    for (let n = 0; n < 2; n++) {
      const mean = [0, 1, 2].map(
        (c) => Array.from(xd.subarray(n * 48 + c * 16, n * 48 + c * 16 + 16)).reduce((s, v) => s + v, 0) / 16,
      );
      for (let o = 0; o < 5; o++) {
        const want = Math.max(0, bias[o] + mean.reduce((s, v, c) => s + v * w[o * 3 + c], 0));
        expect(got[n * 5 + o]).toBeCloseTo(want, 5);
      }
    }
  });

  it("refuses opsets outside 13–18 with the fix in the message", () => {
    expect(() => importOnnx(new GraphBuilder("g"), opset13Model(11))).toThrow(/opset 11 .*opset_version=18/);
  });
});

describe("ONNX import errors name the node and the problem", () => {
  const edit = (mutate: (m: ReturnType<typeof onnx.ModelProto.decode>) => void) => {
    const m = onnx.ModelProto.decode(opset13Model());
    mutate(m);
    return onnx.ModelProto.encode(m).finish();
  };
  const catchError = (bytes: Uint8Array): GraphError => {
    try {
      const b = new GraphBuilder("g");
      importOnnx(b, bytes, { inputs: [b.input("x", "float32", ["N", 3, 4, 4])], file: "model.onnx" });
    } catch (e) {
      expect(e).toBeInstanceOf(GraphError);
      return e as GraphError;
    }
    throw new Error("expected an import error");
  };

  it("unsupported operator", () => {
    const e = catchError(
      edit((m) => {
        m.graph!.node![4].opType = "NonMaxSuppression";
      }),
    );
    expect(e.code).toBe("UNSUPPORTED_OP");
    expect(e.message).toMatch(/NonMaxSuppression/);
    expect(e.node).toBe("act");
  });

  it("bad shapes (Gemm weight of the wrong size)", () => {
    const e = catchError(
      edit((m) => {
        const w = m.graph!.initializer![0];
        w.dims = [5, 4];
        w.rawData = new Uint8Array(80);
      }),
    );
    expect(e.code).toBe("BAD_SHAPE");
    expect(e.node).toBe("fc");
    expect(e.message).toMatch(/Gemm/);
  });

  it("a bound input of the wrong shape", () => {
    const b = new GraphBuilder("g");
    expect(() => importOnnx(b, opset13Model(), { inputs: [b.input("x", "float32", ["N", 2, 4, 4])] })).toThrow(
      /input 'x' is float32\[N,3,4,4\]/,
    );
  });

  it("corrupt, truncated and empty files", () => {
    const good = exportOnnx({ arch: "convnet-1", classes: 2, channels: 1, size: 4, width: 2 }, new ParamStore(1));
    const junk = Uint8Array.from(randn(200, 9), (v) => Math.floor((v + 4) * 30) & 255);
    for (const bytes of [junk, good.subarray(0, Math.floor(good.length / 2)), new Uint8Array(0)]) {
      const e = catchError(bytes);
      expect(e.code).toBe("BAD_MODEL");
      expect(e.message).toMatch(/model\.onnx/);
    }
  });
});
