// Reverse-mode autodiff at graph level. Walks the nodes that lie on a path from the requested
// inputs (`wrt`) to the loss, in reverse order, asks each node's rule for its input gradients,
// reduces broadcast gradients and sums gradients that meet at a value. Nothing is built for
// branches that do not lead from a `wrt` value to the loss.
import type { GraphBuilder } from "../graph/builder.ts";
import { GraphError } from "../graph/errors.ts";
import { isFloat, type Node, type Value } from "../graph/types.ts";
import { GradContext } from "./rule.ts";
import { GRAD_RULES } from "./registry.ts";
import { expandGrad, unbroadcast } from "./unbroadcast.ts";

/** Rules that accept a gradient smaller than their output (one that broadcasts to it): they only
 * use it in broadcasting elementwise ops or reductions. Every other rule gets it expanded. */
const TAKES_LAZY_GRADIENT = new Set(["Identity", "Add", "Sub", "Neg", "Mul", "Div", "ReduceSum", "ReduceMean"]);

export interface GradientOptions {
  /** Gradient of the loss itself; defaults to 1 (the loss must then have one element). */
  seed?: Value;
}

export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Value[] {
  const nodes = b.graph.nodes;
  // Values that depend on some wrt value (forward sweep).
  const depends = new Set<Value>(wrt);
  for (const n of nodes) {
    if (n.inputs.some((i) => i && depends.has(i))) for (const o of n.outputs) if (isFloat(o.dtype)) depends.add(o);
  }
  if (!depends.has(loss)) {
    throw new GraphError("NO_GRADIENT", `the loss '${loss.name}' does not depend on ${wrt.map((w) => `'${w.name}'`).join(", ")}`);
  }
  // Nodes the loss depends on (backward sweep), restricted to those fed by a wrt value.
  const onPath = new Set<Node>();
  const wanted = new Set<Value>([loss]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => wanted.has(o))) continue;
    if (!n.inputs.some((i) => i && depends.has(i))) continue;
    onPath.add(n);
    for (const i of n.inputs) if (i && depends.has(i)) wanted.add(i);
  }

  const grads = new Map<Value, Value>();
  const accumulate = (v: Value, g: Value) => {
    const prev = grads.get(v);
    grads.set(v, prev ? b.add(prev, g) : g);
  };
  if (opts.seed) accumulate(loss, opts.seed);
  else {
    if (!loss.shape.every((d) => d === 1)) {
      throw new GraphError("BAD_SHAPE", `loss '${loss.name}' has shape [${loss.shape.join(", ")}]; pass a seed gradient or reduce it to one element`);
    }
    accumulate(loss, b.constant({ dtype: loss.dtype, shape: [...loss.shape] as number[], data: loss.dtype === "float64" ? new Float64Array([1]) : new Float32Array([1]) }));
  }

  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!onPath.has(n)) continue;
    const lazyOk = TAKES_LAZY_GRADIENT.has(n.op);
    const outGrads = n.outputs.map((o) => {
      const g = grads.get(o);
      return g ? (lazyOk ? g : expandGrad(b, g, o)) : null;
    });
    if (outGrads.every((g) => g === null)) continue;
    const rule = GRAD_RULES[n.op];
    if (!rule) throw new GraphError("NO_GRADIENT", `no gradient rule for operator '${n.op}'`, n.name);
    const needs = n.inputs.map((i) => !!i && depends.has(i) && wanted.has(i));
    const inGrads = b.scope(`${n.name}_Grad`, () => {
      const ctx = new GradContext(b, n, outGrads, needs);
      const raw = rule(ctx);
      return raw.map((g, i) => (g && needs[i] ? unbroadcast(b, g, n.inputs[i]!) : null));
    });
    inGrads.forEach((g, i) => {
      if (g) accumulate(n.inputs[i]!, g);
    });
  }
  return wrt.map((w) => {
    const g = grads.get(w);
    if (!g) throw new GraphError("NO_GRADIENT", `the loss does not depend on '${w.name}'`);
    return expandGrad(b, g, w);
  });
}
