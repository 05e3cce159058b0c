// Several teachers as one: an ONNX model that runs every member on the same input and averages
// their logits (not their probabilities: the relabel temperature then acts on one set of logits).
// Every stage takes it as it takes any teacher file: relabel asks the average, recover matches
// every member's BatchNorm statistics and the cross-entropy of the average (the several recover
// and relabel teachers of SRe2L's successors G-VBSM and CV-DD, in one graph). Members keep their
// own weights under a prefix "m<i>/".
import { onnx } from "../graph/onnx-proto.ts";
import type { OnnxTypes } from "../graph/onnx-proto.ts";
import { teacherDocString, type TeacherFile, type TeacherNote } from "./teacher-file.ts";

const OUTPUT = "logits";

/** The ensemble's note: the members' shared input and normalisation (checked), member 0's arch, and the list. */
export function ensembleNote(notes: TeacherNote[], accuracy?: number): TeacherNote {
  const shared = (n: TeacherNote) => JSON.stringify([n.classes, n.channels, n.size, n.mean, n.std]);
  notes.forEach((n, i) => {
    if (shared(n) !== shared(notes[0]))
      throw new Error(
        `teacher ensemble: member ${i} differs from member 0 in classes, input shape or normalisation; its members must be trained on the same data`,
      );
  });
  const { members: _, ...first } = notes[0];
  return { ...first, accuracy, members: notes.map((n) => ({ arch: n.arch, width: n.width })) };
}

/** The member prefix of every node, value and initializer name of member `i`. */
const memberPrefix = (i: number) => `m${i}/`;

/**
 * One model computing the mean of the members' logits. Members must share the input shape and
 * the number of classes (checked); `note` becomes the model's note (with `members` listing them);
 * without one (members imported from elsewhere) the stages normalise with the data's statistics.
 */
export function ensembleTeacherOnnx(members: Uint8Array[], note?: TeacherNote): Uint8Array {
  if (members.length < 2) throw new Error(`a teacher ensemble needs at least two members, got ${members.length}`);
  const models = members.map((bytes) => onnx.ModelProto.decode(bytes));
  const first = models[0].graph!;
  const initNames = (g: OnnxTypes.IGraphProto) => new Set((g.initializer ?? []).map((t) => t.name));
  const inputOf = (g: OnnxTypes.IGraphProto) => (g.input ?? []).find((i) => !initNames(g).has(i.name))!;
  const input = inputOf(first);
  const signature = (g: OnnxTypes.IGraphProto) =>
    JSON.stringify([inputOf(g).type?.tensorType?.shape, g.output?.[0]?.type?.tensorType?.shape]);
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  const memberLogits: string[] = [];
  models.forEach((m, i) => {
    const g = m.graph!;
    if (signature(g) !== signature(first))
      throw new Error(`teacher ensemble: member ${i} has another input or output shape than member 0`);
    const inName = inputOf(g).name!;
    // the shared input keeps its name, everything else of member i gets its prefix
    const rename = (name: string) => (name === inName ? input.name! : name === "" ? "" : memberPrefix(i) + name);
    for (const n of g.node ?? [])
      nodes.push({
        ...n,
        name: rename(n.name ?? ""),
        input: (n.input ?? []).map(rename),
        output: (n.output ?? []).map(rename),
      });
    for (const t of g.initializer ?? []) initializers.push({ ...t, name: rename(t.name!) });
    memberLogits.push(rename(g.output![0].name!));
  });
  initializers.push({
    name: "ensemble/weight",
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims: [],
    floatData: [1 / members.length],
  });
  // a chain of Adds, not Sum: every op here must be one the importer and the autodiff know
  let sum = memberLogits[0];
  memberLogits.slice(1).forEach((l, i) => {
    const out = `ensemble/sum${i + 1}`;
    nodes.push({ name: out, opType: "Add", input: [sum, l], output: [out] });
    sum = out;
  });
  nodes.push({ name: "ensemble/mean", opType: "Mul", input: [sum, "ensemble/weight"], output: [OUTPUT] });
  // each domain at the highest opset a member uses (ours: 18; PyTorch exports: often 17)
  const opsets = new Map<string, OnnxTypes.IOperatorSetIdProto>();
  for (const set of models.flatMap((m) => m.opsetImport ?? [])) {
    const had = opsets.get(set.domain ?? "");
    if (!had || Number(set.version) > Number(had.version)) opsets.set(set.domain ?? "", set);
  }
  const model: OnnxTypes.IModelProto = {
    ...models[0],
    opsetImport: [...opsets.values()],
    docString: note ? teacherDocString(note) : "",
    graph: {
      name: "teacher-ensemble",
      node: nodes,
      initializer: initializers,
      input: [input],
      output: [{ ...first.output![0], name: OUTPUT }],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Teacher files as one ensemble teacher: all written by squeeze (their note, checked alike) or none. */
export function ensembleOfFiles(files: TeacherFile[]): Uint8Array {
  const notes = files.flatMap((f) => (f.note ? [f.note] : []));
  if (notes.length !== 0 && notes.length !== files.length)
    throw new Error(
      `--teacher ${files.map((f) => f.file).join(",")}: some of these teachers were written by squeeze and some not, so they normalise their input differently; ensemble teachers of one kind`,
    );
  return ensembleTeacherOnnx(
    files.map((f) => f.bytes),
    notes.length ? ensembleNote(notes) : undefined,
  );
}
