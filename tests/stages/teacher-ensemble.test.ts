// A teacher ensemble is one ONNX model: its logits are the mean of its members' (run apart), it
// reads back as a teacher file with its members listed, every stage imports it with every
// member's BatchNorm layers, and members that do not fit together are refused.
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { writeFileAtomic } from "../../gpu-cluster/io/atomic-write.ts";
import { inferenceGraph } from "../../gpu-cluster/models/inference-graph.ts";
import { ParamStore } from "../../gpu-cluster/models/params.ts";
import type { ModelSpec } from "../../gpu-cluster/models/zoo.ts";
import { Classifier } from "../../gpu-cluster/runtime/inference.ts";
import { ensembleNote, ensembleTeacherOnnx } from "../../gpu-cluster/stages/teacher-ensemble.ts";
import {
  readTeacherFile,
  teacherDocString,
  zooTeacher,
  type TeacherNote,
} from "../../gpu-cluster/stages/teacher-file.ts";
import { frozenTeacher } from "../../gpu-cluster/stages/teacher-graph.ts";

const stats = { mean: [0.13], std: [0.31] };
const noteOf = (s: ModelSpec): TeacherNote => ({ ...s, arch: s.arch, width: s.width, ...stats });

function member(spec: ModelSpec, seed: number) {
  // random weights and BN statistics far from (0, 1): a member's every parameter shows in its logits
  const params = new ParamStore(seed);
  inferenceGraph(spec, params); // creates the parameters
  for (const name of params.names()) {
    const v = params.values.get(name)!;
    if (/running_(mean|var)/.test(name))
      v.data = Float32Array.from({ length: v.data.length }, (_, i) =>
        name.endsWith("var") ? 0.5 + ((i * 7 + seed) % 5) / 4 : Math.sin(i + seed),
      );
  }
  return {
    spec,
    params,
    bytes: serializeModel(inferenceGraph(spec, params), { docString: teacherDocString(noteOf(spec)) }),
  };
}

const input = (n: number, seed: number) =>
  tensor(
    "float32",
    [n, 1, 28, 28],
    Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i * 0.37 + seed)),
  );

async function logitsOf(bytes: Uint8Array, n = 5) {
  const clf = await Classifier.fromOnnx(bytes, { threads: 1 });
  try {
    return await clf.logits(input(n, 1));
  } finally {
    await clf.release();
  }
}

describe("teacher ensembles", () => {
  const a = member({ arch: "convnet-2", classes: 10, channels: 1, size: 28, width: 8 }, 1);
  const b = member({ arch: "convnet-3", classes: 10, channels: 1, size: 28, width: 16 }, 2);
  const c = member({ arch: "convnet-2", classes: 10, channels: 1, size: 28, width: 8 }, 3);

  it("outputs the mean of its members' logits, for two and three members", async () => {
    for (const members of [
      [a, b],
      [a, b, c],
    ]) {
      const ens = ensembleTeacherOnnx(
        members.map((m) => m.bytes),
        ensembleNote(members.map((m) => noteOf(m.spec))),
      );
      const each = await Promise.all(members.map((m) => logitsOf(m.bytes)));
      const got = await logitsOf(ens);
      const want = got.map((_, i) => each.reduce((s, l) => s + l[i], 0) / members.length);
      // the members disagree (else a mean proves nothing)
      expect(Math.max(...Array.from(each[0], (v, i) => Math.abs(v - each[1][i])))).toBeGreaterThan(0.1);
      expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
    }
  });

  it("reads back as a teacher with its members, imported with every member's BatchNorm layers", async () => {
    const file = "test-output/stages/ensemble/teacher.onnx";
    writeFileAtomic(file, ensembleTeacherOnnx([a.bytes, b.bytes], ensembleNote([noteOf(a.spec), noteOf(b.spec)], 0.5)));
    const tf = readTeacherFile(file);
    expect(tf.note?.members).toEqual([
      { arch: "convnet-2", width: 8 },
      { arch: "convnet-3", width: 16 },
    ]);
    expect(tf.note?.accuracy).toBe(0.5);
    expect(tf.inputShape).toEqual([1, 28, 28]);
    expect(tf.classes).toBe(10);
    // the zoo cannot rebuild two models from one note: stages import it node by node
    expect(zooTeacher(tf)).toBeNull();
    const g = new GraphBuilder("t");
    const x = g.input("x", "float32", ["N", 1, 28, 28]);
    const t = frozenTeacher(g, x, { kind: "onnx", bytes: tf.bytes, file });
    expect(t.batchNorms).toHaveLength(2 + 3);
    g.output(t.logits, "logits");
    const clf = await Classifier.fromGraph(g.graph, { threads: 1 });
    const got = await clf.logits(input(5, 1));
    const want = await logitsOf(tf.bytes);
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
  });

  it("refuses one member, members of other shapes, and members of other normalisations", () => {
    const other = member({ arch: "convnet-2", classes: 4, channels: 1, size: 28, width: 8 }, 4);
    expect(() => ensembleTeacherOnnx([a.bytes], noteOf(a.spec))).toThrow(/at least two members/);
    expect(() => ensembleTeacherOnnx([a.bytes, other.bytes], noteOf(a.spec))).toThrow(
      /member 1 has another input or output shape/,
    );
    expect(() => ensembleNote([noteOf(a.spec), { ...noteOf(b.spec), mean: [0.5] }])).toThrow(
      /member 1 differs from member 0 .* normalisation/,
    );
  });
});
