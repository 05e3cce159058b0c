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
    private readonly outputGrads: readonly (Value | null)[],
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

  /** Outputs whose gradient the rule has read: the walker refuses a gradient no rule read. */
  readonly read = new Set<number>();

  /** Gradient of output 0 (rules for single-output ops use this). */
  get dy(): Value {
    const g = this.dyAt(0);
    if (!g) throw new Error(`${this.node.name}: no gradient for output 0`);
    return g;
  }

  /** Gradient of output k, or null where nothing downstream needs it. */
  dyAt(k: number): Value | null {
    this.read.add(k);
    return this.outputGrads[k] ?? null;
  }

  /** Gradients a rule has already reduced to their input's shape (the walker leaves them be). */
  readonly reduced = new Set<Value>();

  /** Marks g as already at input shape (see `reduced`). */
  exact(g: Value): Value {
    this.reduced.add(g);
    return g;
  }

  need(i: number): boolean {
    return this.needs[i] ?? false;
  }

  zero(dtypeOf: Value): Value {
    return this.b.scalar(0, dtypeOf.dtype);
  }
}

/** Returns one entry per input: its gradient, or null when not needed / not differentiable. The
 * gradient is at the broadcast shape the input took part in (the walker sums it back), or at the
 * input's own shape, or smaller where it broadcasts ("lazy", for the rules the walker names). */
export type GradRule = (ctx: GradContext) => (Value | null)[];
