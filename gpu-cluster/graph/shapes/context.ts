// What a shape rule sees: the node's inputs, attributes (graph/attributes.ts), and the constant
// values it may need (Reshape targets, Slice bounds, reduction axes) resolved at build time.
import type { Attrs, DType, Dim, TensorData, Value } from "../types.ts";
import { NodeAttributes } from "../attributes.ts";

export interface OutputType {
  dtype: DType;
  shape: Dim[];
}

/** One rule per operator: the dtype and shape of each output (shapes/<family>.ts, collected in registry.ts). */
export type ShapeRule = (ctx: ShapeContext) => OutputType[];

export class ShapeContext extends NodeAttributes {
  constructor(
    op: string,
    node: string,
    readonly inputs: readonly (Value | null)[],
    attrs: Attrs,
    private readonly constantOf: (v: Value) => TensorData | undefined,
  ) {
    super(op, node, attrs);
  }

  input(i: number): Value {
    const v = this.inputs[i];
    if (!v) throw this.error("BAD_INPUT", `${this.op} needs input ${i}`);
    return v;
  }

  optionalInput(i: number): Value | null {
    return this.inputs[i] ?? null;
  }

  /** Integer contents of a constant input (initializer or Constant), or undefined. */
  constInts(i: number): number[] | undefined {
    const v = this.inputs[i];
    const t = v ? this.constantOf(v) : undefined;
    if (!t) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
  }

  /** A 1-D int tensor used as a shape: a constant, or `Shape(x)` whose value is x's shape. */
  shapeValue(i: number): Dim[] | undefined {
    const v = this.inputs[i];
    if (!v) return undefined;
    const p = v.producer;
    if (p && p.op === "Shape" && p.inputs[0] && !p.attrs.start && !p.attrs.end) return [...p.inputs[0].shape];
    return this.constInts(i);
  }

  rank(i: number): number {
    return this.input(i).shape.length;
  }
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(ctx: ShapeContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw ctx.error("BAD_ATTRIBUTE", `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Dimension equality that treats identical symbols as equal. */
export const sameDim = (a: Dim, b: Dim): boolean => a === b;

/** NumPy broadcasting of several shapes; symbols broadcast with 1 and with themselves. */
export function broadcastShapes(ctx: ShapeContext, shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        throw ctx.error(
          "BAD_SHAPE",
          `shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(" and ")} do not broadcast (dim ${i}: ${d} vs ${e})`,
        );
      }
    }
    out.push(d);
  }
  return out;
}
