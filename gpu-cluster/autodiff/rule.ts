// The contract of a gradient rule: given a forward node and the gradients of its outputs,
// emit standard ONNX nodes computing the gradient of each input that needs one.
import type { GraphBuilder } from "../graph/builder.ts";
import { ShapeContext } from "../graph/shapes/context.ts";
import type { Node, Value } from "../graph/types.ts";

export class GradContext {
  readonly attrs: ShapeContext;

  constructor(
    readonly b: GraphBuilder,
    readonly node: Node,
    /** Gradient of each output; null where nothing downstream needs that output. */
    readonly outputGrads: readonly (Value | null)[],
    /** Which inputs need a gradient (only those are built). */
    readonly needs: readonly boolean[],
  ) {
    this.attrs = new ShapeContext(node.op, node.name, node.inputs, node.attrs, (v) => b.constantOf(v));
  }

  x(i: number): Value {
    const v = this.node.inputs[i];
    if (!v) throw new Error(`${this.node.name}: input ${i} is absent`);
    return v;
  }

  y(i = 0): Value {
    return this.node.outputs[i];
  }

  /** Gradient of output 0 (rules for single-output ops use this). */
  get dy(): Value {
    const g = this.outputGrads[0];
    if (!g) throw new Error(`${this.node.name}: no gradient for output 0`);
    return g;
  }

  need(i: number): boolean {
    return this.needs[i] ?? false;
  }

  zero(dtypeOf: Value): Value {
    return this.b.scalar(0, dtypeOf.dtype);
  }
}

/** Returns one entry per input: its gradient (any shape that broadcasts to the input is fine:
 * the walker reduces it), or null when not needed / not differentiable. */
export type GradRule = (ctx: GradContext) => (Value | null)[];
