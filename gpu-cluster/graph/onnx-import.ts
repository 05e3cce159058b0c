// Imports an ONNX model (for instance a torchvision ResNet exported by PyTorch, opset 13–18)
// into a GraphBuilder, node by node, re-running our shape inference on each: the imported model
// becomes part of a larger graph (recover appends losses to it, autodiff differentiates it).
// Older opset forms are rewritten to opset 18 (axes attributes → inputs). Every failure is a
// GraphError naming the node and the problem.
import { onnx } from "./onnx-proto.ts";
import type { OnnxTypes } from "./onnx-proto.ts";
import type { AttrInput, GraphBuilder } from "./builder.ts";
import { GraphError } from "./errors.ts";
import { DTYPE_OF_ONNX } from "./onnx-types.ts";
import { SUPPORTED_OPS } from "./shapes/registry.ts";
import { typedArrayFor, type Attr, type Dim, type TensorData, type Value } from "./types.ts";

export const MIN_IMPORT_OPSET = 13;
export const MAX_IMPORT_OPSET = 18;

/** A BatchNormalization layer of the imported model: its input and running statistics. */
export interface ImportedBatchNorm {
  name: string;
  input: Value;
  runningMean: Value;
  runningVar: Value;
}

export interface ImportOptions {
  /** Values bound to the model's graph inputs, in order (or by input name). Unbound inputs become graph inputs. */
  inputs?: Value[] | Record<string, Value>;
  /** Scope for node and value names ("teacher" → "teacher/conv1"). */
  scope?: string;
  /** Shown in error messages. */
  file?: string;
}

export interface ImportedModel {
  outputs: Value[];
  batchNorms: ImportedBatchNorm[];
  opset: number;
  /** Names of the model's graph inputs (non-initializer). */
  inputNames: string[];
}

// Ops whose axes moved from an attribute to an input, and the opset where each moved.
const AXES_TO_INPUT: Record<string, number> = {
  ReduceSum: 13,
  Squeeze: 13,
  Unsqueeze: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
  ReduceL2: 18,
  ReduceSumSquare: 18,
};

export function decodeOnnx(bytes: Uint8Array, file = "<bytes>"): OnnxTypes.ModelProto {
  if (bytes.length === 0) throw new GraphError("BAD_MODEL", `${file}: the file is empty, not an ONNX model`);
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new GraphError(
      "BAD_MODEL",
      `${file}: not a valid ONNX protobuf (${(e as Error).message}); the file is corrupt or truncated`,
    );
  }
  if (!model.graph || (model.graph.node ?? []).length === 0)
    throw new GraphError(
      "BAD_MODEL",
      `${file}: the model has no graph nodes; the file is corrupt or not an ONNX model`,
    );
  return model;
}

export function tensorFromProto(t: OnnxTypes.ITensorProto, where: string): TensorData {
  const dtype = DTYPE_OF_ONNX[t.dataType ?? 0];
  if (!dtype)
    throw new GraphError(
      "BAD_MODEL",
      `tensor '${t.name}' has ONNX data type ${t.dataType}, which we do not support (float32/64, int32/64, uint8, bool)`,
      where,
    );
  const shape = (t.dims ?? []).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = typedArrayFor(dtype, n);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== n * data.BYTES_PER_ELEMENT) {
      throw new GraphError(
        "BAD_MODEL",
        `tensor '${t.name}' of shape [${shape}] needs ${n * data.BYTES_PER_ELEMENT} bytes, has ${t.rawData.length}: the file is corrupt`,
        where,
      );
    }
    new Uint8Array(data.buffer).set(t.rawData);
  } else {
    const values: ArrayLike<number | Long> =
      dtype === "float32"
        ? (t.floatData ?? [])
        : dtype === "float64"
          ? (t.doubleData ?? [])
          : dtype === "int64"
            ? (t.int64Data ?? [])
            : (t.int32Data ?? []);
    if (values.length !== n)
      throw new GraphError(
        "BAD_MODEL",
        `tensor '${t.name}' of shape [${shape}] has ${values.length} values: the file is corrupt`,
        where,
      );
    for (let i = 0; i < n; i++) {
      const v = Number(values[i]);
      if (data instanceof BigInt64Array) data[i] = BigInt(v);
      else data[i] = v;
    }
  }
  return { dtype, shape, data };
}
type Long = { toNumber(): number };

function attribute(a: OnnxTypes.IAttributeProto, where: string): Attr {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { kind: "int", value: Number(a.i ?? 0) };
    case T.INTS:
      return { kind: "ints", value: (a.ints ?? []).map(Number) };
    case T.FLOAT:
      return { kind: "float", value: a.f ?? 0 };
    case T.FLOATS:
      return { kind: "floats", value: [...(a.floats ?? [])] };
    case T.STRING:
      return { kind: "string", value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case T.TENSOR:
      return { kind: "tensor", value: tensorFromProto(a.t ?? {}, where) };
    default:
      throw new GraphError("BAD_ATTRIBUTE", `attribute '${a.name}' has type ${a.type}, which we do not import`, where);
  }
}

function dimsOf(v: OnnxTypes.IValueInfoProto): { dtype: TensorData["dtype"]; shape: Dim[] } {
  const tt = v.type?.tensorType;
  const dtype = DTYPE_OF_ONNX[tt?.elemType ?? 0];
  if (!dtype)
    throw new GraphError("BAD_MODEL", `graph input '${v.name}' has an unsupported element type ${tt?.elemType}`);
  const shape = (tt?.shape?.dim ?? []).map((d, i) =>
    d.dimParam ? d.dimParam : d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : `${v.name}_d${i}`,
  );
  return { dtype, shape };
}

export function importOnnx(b: GraphBuilder, bytes: Uint8Array, o: ImportOptions = {}): ImportedModel {
  const file = o.file ?? "<bytes>";
  const model = decodeOnnx(bytes, file);
  const opsetEntry = (model.opsetImport ?? []).find((x) => !x.domain || x.domain === "ai.onnx");
  const opset = Number(opsetEntry?.version ?? 0);
  if (opset < MIN_IMPORT_OPSET || opset > MAX_IMPORT_OPSET) {
    throw new GraphError(
      "BAD_MODEL",
      `${file}: opset ${opset} is outside the supported ${MIN_IMPORT_OPSET}–${MAX_IMPORT_OPSET}; re-export with torch.onnx.export(..., opset_version=18)`,
    );
  }
  const g = model.graph!;
  const run = () => {
    const values = new Map<string, Value>();
    for (const init of g.initializer ?? [])
      values.set(init.name ?? "", b.initializer(init.name ?? "", tensorFromProto(init, init.name ?? "")));
    const inputNames = (g.input ?? []).filter((i) => !values.has(i.name ?? "")).map((i) => i.name ?? "");
    inputNames.forEach((name, idx) => {
      const info = (g.input ?? []).find((i) => i.name === name)!;
      const declared = dimsOf(info);
      const bound = Array.isArray(o.inputs) ? o.inputs[idx] : o.inputs?.[name];
      if (!bound) {
        values.set(name, b.input(b.qualified(name), declared.dtype, declared.shape));
        return;
      }
      const mismatch =
        bound.shape.length !== declared.shape.length ||
        bound.shape.some(
          (d, i) => typeof d === "number" && typeof declared.shape[i] === "number" && d !== declared.shape[i],
        );
      if (mismatch || bound.dtype !== declared.dtype) {
        const fixedBatch =
          bound.dtype === declared.dtype &&
          bound.shape.length === declared.shape.length &&
          typeof declared.shape[0] === "number" &&
          bound.shape.every(
            (d, i) =>
              i === 0 || typeof d !== "number" || typeof declared.shape[i] !== "number" || d === declared.shape[i],
          );
        const hint = fixedBatch
          ? `; the model was exported with a fixed batch size: export it with a dynamic batch, torch.onnx.export(..., dynamic_axes={"${name}": {0: "batch"}})`
          : "";
        throw new GraphError(
          "BAD_SHAPE",
          `${file}: input '${name}' is ${declared.dtype}[${declared.shape}] but the bound value '${bound.name}' is ${bound.dtype}[${bound.shape}]${hint}`,
        );
      }
      values.set(name, bound);
    });
    const batchNorms: ImportedBatchNorm[] = [];
    const nodes = g.node ?? [];
    nodes.forEach((n, idx) => {
      const op = n.opType ?? "";
      const where = n.name || `${op}_${idx}`;
      if (n.domain && n.domain !== "ai.onnx")
        throw new GraphError(
          "UNSUPPORTED_OP",
          `${file}: operator '${n.domain}.${op}' (custom domain) is not supported`,
          where,
        );
      const inputs = (n.input ?? []).map((name) => {
        if (name === "") return null;
        const v = values.get(name);
        if (!v)
          throw new GraphError(
            "BAD_MODEL",
            `${file}: input '${name}' of ${op} is not produced by any earlier node (the graph is not topologically sorted or is corrupt)`,
            where,
          );
        return v;
      });
      const attrs: Record<string, AttrInput> = {};
      for (const a of n.attribute ?? []) attrs[a.name ?? ""] = attribute(a, where);
      if (op === "Constant") {
        const t = attrs.value as Attr | undefined;
        if (!t || typeof t !== "object" || t.kind !== "tensor")
          throw new GraphError(
            "BAD_ATTRIBUTE",
            `${file}: Constant without a tensor 'value' (sparse or value_* forms are not supported)`,
            where,
          );
        values.set(n.output![0], b.initializer(n.output![0], t.value));
        return;
      }
      let opName = op;
      if (op === "Dropout") opName = "Identity"; // inference: Dropout is the identity
      if (AXES_TO_INPUT[op] !== undefined && attrs.axes) {
        const axes = attrs.axes as Attr;
        delete attrs.axes;
        if (axes.kind === "ints") inputs[1] = b.ints(axes.value);
      }
      if (op === "Split" && attrs.split) {
        const split = attrs.split as Attr;
        delete attrs.split;
        if (split.kind === "ints") inputs[1] = b.ints(split.value);
      }
      if (!SUPPORTED_OPS.includes(opName)) {
        throw new GraphError(
          "UNSUPPORTED_OP",
          `${file}: operator '${op}' is not supported by the importer (supported: ${SUPPORTED_OPS.join(", ")})`,
          where,
        );
      }
      const outNames = (n.output ?? []).map((name, i) => (name === "" ? `${where}:unused${i}` : b.qualified(name)));
      const liveInputs = opName === "Identity" ? inputs.slice(0, 1) : inputs;
      let outs: Value[];
      try {
        outs = b.op(opName, liveInputs, attrs, { name: where, outputNames: outNames });
      } catch (e) {
        if (e instanceof GraphError) throw new GraphError(e.code, `${file}: ${op}: ${e.message}`, where);
        throw e;
      }
      (n.output ?? []).forEach((name, i) => {
        if (name !== "") values.set(name, outs[i]);
      });
      if (
        op === "BatchNormalization" &&
        !Number(
          (attrs.training_mode as Attr | undefined)?.kind === "int"
            ? (attrs.training_mode as { value: number }).value
            : 0,
        )
      ) {
        batchNorms.push({ name: where, input: inputs[0]!, runningMean: inputs[3]!, runningVar: inputs[4]! });
      }
    });
    const outputs = (g.output ?? []).map((out) => {
      const v = values.get(out.name ?? "");
      if (!v) throw new GraphError("BAD_MODEL", `${file}: graph output '${out.name}' is not produced by any node`);
      return v;
    });
    return { outputs, batchNorms, opset, inputNames };
  };
  return o.scope ? b.scope(o.scope, run) : run();
}
