// Core types of the graph IR: static-shaped tensors (a dim may be a symbol such as "N"),
// nodes that are ONNX operators, and constant tensor data.

export type DType = "float32" | "float64" | "int64" | "int32" | "uint8" | "bool";
/** A dimension: a number, or a symbol (string) for sizes known only at run time (the batch). */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** Constant tensor contents (initializers, Constant nodes, attribute tensors). */
export interface TensorData {
  dtype: DType;
  shape: readonly number[];
  data: TypedArray;
}

/** Attribute values. `float`/`floats` are tagged so the serializer keeps ONNX's int/float distinction. */
export type Attr =
  | { kind: "int"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "float"; value: number }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: TensorData };

export type Attrs = Record<string, Attr>;

export interface Value {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The node that computes this value; undefined for graph inputs and initializers. */
  producer?: Node;
}

export interface Node {
  readonly op: string;
  readonly name: string;
  /** `null` marks an omitted optional input (ONNX's empty name). */
  inputs: (Value | null)[];
  outputs: Value[];
  attrs: Attrs;
}

export const isFloat = (t: DType): boolean => t === "float32" || t === "float64";

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function typedArrayFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
  }
}
