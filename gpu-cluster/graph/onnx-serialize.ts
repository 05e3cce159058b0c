// Serialises a Graph to an ONNX ModelProto (opset 18) with the onnx-proto package.
// Only nodes that the outputs need are written.
import { onnx } from "./onnx-proto.ts";
import type { OnnxTypes } from "./onnx-proto.ts";
import type { Graph } from "./graph.ts";
import type { Attr, TensorData, Value } from "./types.ts";
import { OPSET } from "./builder.ts";
import { ONNX_DTYPE } from "./onnx-types.ts";

function tensorProto(name: string, t: TensorData): OnnxTypes.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: [...t.shape], dataType: ONNX_DTYPE[t.dtype], rawData: bytes };
}

function valueInfo(v: Value): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case "int":
      return { name, type: T.INT, i: a.value };
    case "ints":
      return { name, type: T.INTS, ints: a.value };
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "floats":
      return { name, type: T.FLOATS, floats: a.value };
    case "string":
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case "tensor":
      return { name, type: T.TENSOR, t: tensorProto("", a.value) };
  }
}

export function toModelProto(
  graph: Graph,
  opts: { producer?: string; docString?: string } = {},
): OnnxTypes.IModelProto {
  const nodes = graph.liveNodes();
  const used = new Set<Value>();
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i);
  for (const o of graph.outputs) used.add(o);
  const initializers = [...graph.initializers].filter(([v]) => used.has(v));
  return {
    irVersion: 8,
    producerName: opts.producer ?? "distill",
    producerVersion: "0.1.0",
    docString: opts.docString,
    opsetImport: [{ domain: "", version: OPSET }],
    graph: {
      name: graph.name,
      node: nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs.map((i) => i?.name ?? ""),
        output: n.outputs.map((o) => o.name),
        attribute: Object.entries(n.attrs).map(([k, a]) => attributeProto(k, a)),
      })),
      initializer: initializers.map(([v, t]) => tensorProto(v.name, t)),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
}

export function serializeModel(graph: Graph, opts?: { producer?: string; docString?: string }): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(toModelProto(graph, opts))).finish();
}
