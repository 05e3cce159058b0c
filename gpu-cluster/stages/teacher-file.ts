// The teacher as a file: a standard .onnx model (frozen weights, BN running statistics inside)
// whose doc string carries what the other stages need to use it: the architecture it was built
// from and the input normalisation it was trained with. Imported teachers (e.g. a torchvision
// ResNet exported by PyTorch) have no such note: the caller supplies the normalisation.
import { readFileExplained } from "../io/read-file.ts";
import { z } from "zod";
import { onnx } from "../graph/onnx-proto.ts";
import type { ChannelStats } from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import { noBatchNormMessage, type TeacherSource } from "./teacher-graph.ts";

export const teacherNoteSchema = z.object({
  arch: z.string(),
  classes: z.number().int().positive(),
  channels: z.number().int().positive(),
  size: z.number().int().positive(),
  width: z.number().int().positive().optional(),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  accuracy: z.number().min(0).max(1).optional(),
  /** An ensemble (teacher-ensemble.ts): its members, whose mean logits the model outputs; arch and width are member 0's. */
  members: z
    .array(z.object({ arch: z.string(), width: z.number().int().positive().optional() }))
    .min(2)
    .optional(),
});
export type TeacherNote = z.infer<typeof teacherNoteSchema>;

export interface TeacherFile {
  file: string;
  bytes: Uint8Array;
  /** Present when the teacher was written by our squeeze stage. */
  note?: TeacherNote;
  /** Input [C, H, W] and number of classes read from the graph's signature. */
  inputShape: number[];
  classes: number;
}

const NOTE_KEY = "distill.teacher";

export function teacherDocString(note: TeacherNote): string {
  return JSON.stringify({ [NOTE_KEY]: note });
}

function staticDims(
  t: { tensorType?: { shape?: { dim?: { dimValue?: unknown }[] | null } | null } | null } | null | undefined,
): number[] {
  return (t?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
}

/**
 * An ONNX teacher, checked for what the stages need. `source` says who named the file (--teacher,
 * or the run folder for the one squeeze wrote) and `fix` what to do when it cannot be read.
 */
export function readTeacherFile(
  file: string,
  source = "--teacher",
  fix = "give the path of an .onnx model",
): TeacherFile {
  const bytes = new Uint8Array(readFileExplained(file, source, fix));
  let model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(
      `${source} ${file}: not an ONNX model (${(e as Error).message}); export the teacher with torch.onnx.export or let squeeze train one`,
    );
  }
  const g = model.graph;
  const initNames = new Set((g?.initializer ?? []).map((t) => t.name));
  const input = (g?.input ?? []).find((i) => !initNames.has(i.name));
  const output = g?.output?.[0];
  if (!g || !input || !output) throw new Error(`${source} ${file}: the model has no graph input or output`);
  const inDims = staticDims(input.type);
  const outDims = staticDims(output.type);
  if (inDims.length !== 4 || inDims.slice(1).some((d) => d <= 0)) {
    throw new Error(`${source} ${file}: input '${input.name}' must be N×C×H×W with static C, H, W (got [${inDims}])`);
  }
  if (outDims.length !== 2 || !(outDims[1] > 0))
    throw new Error(`${source} ${file}: output '${output.name}' must be N×classes logits (got [${outDims}])`);
  // Checked here, before any stage runs: recover cannot work without BN layers.
  if (!(g.node ?? []).some((n) => n.opType === "BatchNormalization"))
    throw new Error(`${source} ${noBatchNormMessage(file)}`);
  let note: TeacherNote | undefined;
  if (model.docString) {
    try {
      const parsed = JSON.parse(model.docString)[NOTE_KEY];
      if (parsed) note = teacherNoteSchema.parse(parsed);
    } catch {
      note = undefined; // a foreign doc string: not ours, ignore it
    }
  }
  return { file, bytes, note, inputShape: inDims.slice(1), classes: outDims[1] };
}

/** What the teacher is, for reports: its architecture, its members for an ensemble, "imported" without a note. */
export function teacherArch(note?: TeacherNote): string {
  if (!note) return "imported";
  if (!note.members) return note.arch;
  return `ensemble of ${note.members.map((m) => (m.width ? `${m.arch} (width ${m.width})` : m.arch)).join(" + ")}`;
}

/** The normalisation to feed the teacher: its own note, else the dataset's statistics. */
export function teacherNormalisation(t: TeacherFile, datasetStats: ChannelStats): ChannelStats {
  return t.note ? { mean: t.note.mean, std: t.note.std } : datasetStats;
}

/**
 * A teacher written by our squeeze, rebuilt natively from the model zoo with the file's weights
 * (the initializers carry the zoo's parameter names). Foreign teachers return null: they are
 * imported node by node instead (teacher-graph.ts), and so are ensembles of ours.
 */
export function zooTeacher(t: TeacherFile): TeacherSource | null {
  // an ensemble is imported node by node: its members' weights share zoo names under "m<i>/"
  if (!t.note || t.note.members) return null;
  const model = onnx.ModelProto.decode(t.bytes);
  const params = new ParamStore(0, true);
  for (const init of model.graph?.initializer ?? []) {
    if (init.dataType !== onnx.TensorProto.DataType.FLOAT || !init.name) continue;
    const dims = (init.dims ?? []).map(Number);
    const data =
      init.rawData && init.rawData.length > 0
        ? new Float32Array(init.rawData.slice().buffer, 0, init.rawData.length / 4)
        : Float32Array.from(init.floatData ?? []);
    // Initializer names carry the builder's scope path ("features.0/features.0.conv.weight").
    params.set(init.name.slice(init.name.lastIndexOf("/") + 1), { dtype: "float32", shape: dims, data });
  }
  const { arch, classes, channels, size, width } = t.note;
  return { kind: "zoo", spec: { arch, classes, channels, size, width }, params };
}
