// GraphBuilder: appends ONNX nodes to a Graph, infers every output's type and shape as it goes,
// and names nodes after the scope they are built in ("layer1.0/conv1"), so the ONNX file reads
// well in a viewer. Convenience methods cover the operators the models, losses and gradient
// rules use; `op()` reaches any operator with a shape rule.
import { Graph } from "./graph.ts";
import { GraphError } from "./errors.ts";
import { ShapeContext } from "./shapes/context.ts";
import { SHAPE_RULES } from "./shapes/registry.ts";
import type { Attr, Attrs, DType, Node, Shape, TensorData, Value } from "./types.ts";
import { typedArrayFor } from "./types.ts";

export type AttrInput = number | number[] | string | Attr;

export const OPSET = 18;

/** Attribute names that ONNX types as float; every other numeric attribute is an int. */
const FLOAT_ATTRS = new Set(["alpha", "beta", "epsilon", "momentum", "gamma", "bias", "lambd", "scale", "ratio"]);

function toAttr(name: string, v: AttrInput): Attr {
  if (typeof v === "object" && !Array.isArray(v)) return v;
  if (typeof v === "string") return { kind: "string", value: v };
  const isFloat = FLOAT_ATTRS.has(name);
  if (Array.isArray(v)) return isFloat ? { kind: "floats", value: v } : { kind: "ints", value: v };
  return isFloat ? { kind: "float", value: v } : { kind: "int", value: v };
}

export function tensor(dtype: DType, shape: readonly number[], values?: ArrayLike<number>): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = typedArrayFor(dtype, n);
  if (values) {
    if (values.length !== n)
      throw new GraphError("BAD_SHAPE", `tensor of shape [${shape}] needs ${n} values, got ${values.length}`);
    if (data instanceof BigInt64Array) for (let i = 0; i < n; i++) data[i] = BigInt(Math.trunc(values[i]));
    else data.set(values);
  }
  return { dtype, shape: [...shape], data };
}

export class GraphBuilder {
  readonly graph: Graph;
  private readonly scopes: string[] = [];
  private readonly constCache = new Map<string, Value>();
  private readonly nodeCounts = new Map<string, number>();

  constructor(name: string, graph?: Graph) {
    this.graph = graph ?? new Graph(name);
  }

  // ---- scopes and names ---------------------------------------------------------------
  scope<T>(name: string, body: () => T): T {
    this.scopes.push(name);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  qualified(name: string): string {
    return [...this.scopes, name].join("/");
  }

  private nodeName(op: string, name?: string): string {
    const base = this.qualified(name ?? op);
    const n = this.nodeCounts.get(base) ?? 0;
    this.nodeCounts.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  // ---- graph interface ------------------------------------------------------------------
  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.graph.hasValue(name)) throw new GraphError("BAD_INPUT", `a value named '${name}' already exists`);
    const v = this.graph.newValue(name, dtype, shape);
    this.graph.inputs.push(v);
    return v;
  }

  /** Marks `v` as a graph output, under `name` if given (an Identity renames it). */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      if (this.graph.hasValue(name)) throw new GraphError("BAD_INPUT", `a value named '${name}' already exists`);
      out = this.op("Identity", [v], {}, { outputNames: [name] })[0];
    }
    this.graph.outputs.push(out);
    return out;
  }

  /** A named constant tensor stored in the model (weights of a frozen teacher, for instance). */
  initializer(name: string, data: TensorData): Value {
    const v = this.graph.newValue(this.qualified(name), data.dtype, data.shape);
    this.graph.initializers.set(v, data);
    return v;
  }

  /** A small constant, shared between all uses of the same contents. */
  constant(data: TensorData): Value {
    const key =
      data.data.length <= 64
        ? `${data.dtype}|${data.shape}|${Array.from(data.data as ArrayLike<number>).join(",")}`
        : undefined;
    const hit = key ? this.constCache.get(key) : undefined;
    if (hit) return hit;
    const v = this.graph.newValue(`const_${this.constCache.size}`, data.dtype, data.shape);
    this.graph.initializers.set(v, data);
    if (key) this.constCache.set(key, v);
    return v;
  }

  scalar(x: number, dtype: DType = "float32"): Value {
    return this.constant(tensor(dtype, [], [x]));
  }

  /** A 1-D int64 constant (axes, shapes, pads). */
  ints(values: readonly number[]): Value {
    return this.constant(tensor("int64", [values.length], values));
  }

  constantOf(v: Value): TensorData | undefined {
    const init = this.graph.initializers.get(v);
    if (init) return init;
    const p = v.producer;
    if (p && p.op === "Constant" && p.attrs.value?.kind === "tensor") return p.attrs.value.value;
    return undefined;
  }

  /** Appends one node; infers its outputs. */
  op(
    op: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrInput> = {},
    opts: { name?: string; outputNames?: string[]; outputs?: number } = {},
  ): Value[] {
    const name = this.nodeName(op, opts.name);
    const rule = SHAPE_RULES[op];
    if (!rule) throw new GraphError("UNSUPPORTED_OP", `operator '${op}' is not supported (no shape rule)`, name);
    const at: Attrs = {};
    for (const [k, v] of Object.entries(attrs)) at[k] = toAttr(k, v);
    const types = rule(new ShapeContext(op, name, inputs, at, (v) => this.constantOf(v)));
    const count = opts.outputs ?? opts.outputNames?.length ?? types.length;
    const outputs = types
      .slice(0, count)
      .map((t, i) =>
        this.graph.newValue(opts.outputNames?.[i] ?? (count === 1 ? name : `${name}:${i}`), t.dtype, t.shape),
      );
    const node: Node = { op, name, inputs, outputs, attrs: at };
    for (const o of outputs) o.producer = node;
    this.graph.nodes.push(node);
    return outputs;
  }

  op1(op: string, inputs: (Value | null)[], attrs: Record<string, AttrInput> = {}, name?: string): Value {
    return this.op(op, inputs, attrs, { name, outputs: 1 })[0];
  }

  // ---- elementwise ------------------------------------------------------------------------
  add(a: Value, b: Value): Value {
    return this.op1("Add", [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op1("Sub", [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op1("Mul", [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op1("Div", [a, b]);
  }
  neg(a: Value): Value {
    return this.op1("Neg", [a]);
  }
  exp(a: Value): Value {
    return this.op1("Exp", [a]);
  }
  log(a: Value): Value {
    return this.op1("Log", [a]);
  }
  sqrt(a: Value): Value {
    return this.op1("Sqrt", [a]);
  }
  relu(a: Value): Value {
    return this.op1("Relu", [a]);
  }
  pow(a: Value, b: Value): Value {
    return this.op1("Pow", [a, b]);
  }
  where(c: Value, a: Value, b: Value): Value {
    return this.op1("Where", [c, a, b]);
  }
  cast(a: Value, to: DType): Value {
    const code = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 }[to];
    return this.op1("Cast", [a], { to: code });
  }
  /** `a * s` for a JS number s, in a's dtype. */
  scale(a: Value, s: number): Value {
    return s === 1 ? a : this.mul(a, this.scalar(s, a.dtype));
  }

  // ---- reductions ---------------------------------------------------------------------------
  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.op1("ReduceSum", [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.op1("ReduceMean", [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }

  // ---- shapes -------------------------------------------------------------------------------
  shapeOf(x: Value): Value {
    return this.op1("Shape", [x]);
  }
  reshape(x: Value, shape: readonly number[] | Value): Value {
    return this.op1("Reshape", [x, Array.isArray(shape) ? this.ints(shape) : (shape as Value)]);
  }
  /** Reshapes x to the (possibly symbolic) shape of `like`. */
  reshapeLike(x: Value, like: Value): Value {
    return this.reshape(x, this.shapeOf(like));
  }
  expandLike(x: Value, like: Value): Value {
    return this.op1("Expand", [x, this.shapeOf(like)]);
  }
  transpose(x: Value, perm: readonly number[]): Value {
    return this.op1("Transpose", [x], { perm: [...perm] });
  }
  flatten(x: Value, axis = 1): Value {
    return this.op1("Flatten", [x], { axis });
  }
  slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
    const ins = [x, this.ints(starts), this.ints(ends), this.ints(axes)];
    if (steps) ins.push(this.ints(steps));
    return this.op1("Slice", ins);
  }
  concat(xs: Value[], axis: number): Value {
    return this.op1("Concat", xs, { axis });
  }
  pad(x: Value, pads: number[], value = 0): Value {
    return this.op1("Pad", [x, this.ints(pads), this.scalar(value, x.dtype)], { mode: "constant" });
  }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.op1("Unsqueeze", [x, this.ints(axes)]);
  }
  squeeze(x: Value, axes: number[]): Value {
    return this.op1("Squeeze", [x, this.ints(axes)]);
  }

  // ---- layers ---------------------------------------------------------------------------------
  matmul(a: Value, b: Value): Value {
    return this.op1("MatMul", [a, b]);
  }
  gemm(
    a: Value,
    b: Value,
    c: Value | null,
    o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {},
  ): Value {
    return this.op1("Gemm", [a, b, c], {
      transA: o.transA ? 1 : 0,
      transB: o.transB ? 1 : 0,
      alpha: o.alpha ?? 1,
      beta: o.beta ?? 1,
    });
  }
  conv(
    x: Value,
    w: Value,
    b: Value | null,
    o: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number } = {},
    name?: string,
  ): Value {
    const n = w.shape.length - 2;
    return this.op1(
      "Conv",
      b ? [x, w, b] : [x, w],
      {
        strides: o.strides ?? Array(n).fill(1),
        pads: o.pads ?? Array(2 * n).fill(0),
        dilations: o.dilations ?? Array(n).fill(1),
        group: o.group ?? 1,
      },
      name,
    );
  }
  maxPool(x: Value, kernel: number[], o: { strides?: number[]; pads?: number[] } = {}): Value {
    return this.op(
      "MaxPool",
      [x],
      { kernel_shape: kernel, strides: o.strides ?? kernel, pads: o.pads ?? Array(2 * kernel.length).fill(0) },
      { outputs: 1 },
    )[0];
  }
  averagePool(
    x: Value,
    kernel: number[],
    o: { strides?: number[]; pads?: number[]; countIncludePad?: boolean } = {},
  ): Value {
    return this.op1("AveragePool", [x], {
      kernel_shape: kernel,
      strides: o.strides ?? kernel,
      pads: o.pads ?? Array(2 * kernel.length).fill(0),
      count_include_pad: o.countIncludePad ? 1 : 0,
    });
  }
  globalAveragePool(x: Value): Value {
    return this.op1("GlobalAveragePool", [x]);
  }
  softmax(x: Value, axis = -1): Value {
    return this.op1("Softmax", [x], { axis });
  }
  logSoftmax(x: Value, axis = -1): Value {
    return this.op1("LogSoftmax", [x], { axis });
  }
}
