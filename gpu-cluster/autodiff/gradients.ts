// Reverse-mode autodiff at graph level. Walks the nodes that lie on a path from the requested
// inputs (`wrt`) to the loss, in reverse order, asks each node's rule for its input gradients,
// reduces broadcast gradients and sums gradients that meet at a value. Nothing is built for
// branches that do not lead from a `wrt` value to the loss.
import type { GraphBuilder } from "../graph/builder.ts";
import { GraphError } from "../graph/errors.ts";
import { isFloat, type Node, type Value } from "../graph/types.ts";
import { GradContext, type GradRule } from "./rule.ts";
import { GRAD_RULES } from "./registry.ts";
import { broadcastsTo, expandGrad, unbroadcast } from "./unbroadcast.ts";

/** Rules that accept a gradient smaller than their output (one that broadcasts to it): they only
 * use it in broadcasting elementwise ops or reductions. Every other rule gets it expanded. Each
 * names the value whose shape the (possibly lazy) gradients it returns stand for. */
const output = (n: Node) => n.outputs[0];
const input = (n: Node) => n.inputs[0]!;
const TAKES_LAZY_GRADIENT: Readonly<Record<string, (n: Node) => Value>> = {
  Identity: output,
  Add: output,
  Sub: output,
  Neg: output,
  Mul: output,
  Div: output,
  ReduceSum: input,
  ReduceMean: input,
};

const fmt = (v: Value) => `[${v.shape.join(", ")}]`;

export interface GradientOptions {
  /** Gradient of the loss itself; defaults to 1 (the loss must then have one element). */
  seed?: Value;
  /** The rules to use (default: the registry); tests pass their own to check the walker. */
  rules?: Readonly<Record<string, GradRule>>;
}

export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Value[] {
  const nodes = b.graph.nodes;
  // Values that depend on some wrt value (forward sweep).
  const depends = new Set<Value>(wrt);
  for (const n of nodes) {
    if (n.inputs.some((i) => i && depends.has(i))) for (const o of n.outputs) if (isFloat(o.dtype)) depends.add(o);
  }
  if (!depends.has(loss)) {
    throw new GraphError(
      "NO_GRADIENT",
      `the loss '${loss.name}' does not depend on ${wrt.map((w) => `'${w.name}'`).join(", ")}`,
    );
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
      throw new GraphError(
        "BAD_SHAPE",
        `loss '${loss.name}' has shape [${loss.shape.join(", ")}]; pass a seed gradient or reduce it to one element`,
      );
    }
    accumulate(
      loss,
      b.constant({
        dtype: loss.dtype,
        shape: [...loss.shape] as number[],
        data: loss.dtype === "float64" ? new Float64Array([1]) : new Float32Array([1]),
      }),
    );
  }

  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!onPath.has(n)) continue;
    const lazyFull = TAKES_LAZY_GRADIENT[n.op] as ((n: Node) => Value) | undefined;
    const outGrads = n.outputs.map((o) => {
      const g = grads.get(o);
      return g ? (lazyFull ? g : expandGrad(b, g, o)) : null;
    });
    if (outGrads.every((g) => g === null)) continue;
    const rule = (opts.rules ?? GRAD_RULES)[n.op];
    if (!rule) throw new GraphError("NO_GRADIENT", `no gradient rule for operator '${n.op}'`, n.name);
    const needs = n.inputs.map((i) => !!i && depends.has(i) && wanted.has(i));
    const inGrads = b.scope(`${n.name}_Grad`, () => {
      const ctx = new GradContext(b, n, outGrads, needs);
      const raw = rule(ctx);
      outGrads.forEach((g, k) => {
        if (g && !ctx.read.has(k)) {
          throw new GraphError(
            "NO_GRADIENT",
            `a gradient reaches output ${k} ('${n.outputs[k].name}') of ${n.op}, and its rule does not differentiate that output`,
            n.name,
          );
        }
      });
      return raw.map((g, i) => {
        if (!g || !needs[i]) return null;
        const x = n.inputs[i]!;
        const out = ctx.reduced.has(g) ? g : unbroadcast(b, g, x, lazyFull ? lazyFull(n) : g);
        if (!broadcastsTo(out.shape, x.shape)) {
          throw new GraphError(
            "BAD_SHAPE",
            `${n.op} gradient rule returned ${fmt(g)} for input ${i} ('${x.name}') of shape ${fmt(x)}, which does not reduce to it`,
            n.name,
          );
        }
        return out;
      });
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
