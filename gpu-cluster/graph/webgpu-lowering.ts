// Rewrites for ORT's WebGPU EP (onnxruntime-node and -web 1.30), applied to a finished graph
// (after autodiff) so that every node has a WebGPU kernel:
// - training-mode BatchNormalization, which WebGPU refuses ("trainingMode is not supported yet"),
//   as plain ops; same numbers as ONNX's definition: population batch variance, running =
//   input·momentum + batch·(1 − momentum);
// - LogSoftmax, which it leaves to the CPU EP, as x − max − log Σ exp(x − max).
// A node is replaced where it stands and its outputs keep their values, so every consumer (and
// the backward pass autodiff built from the original node, already plain ops) is untouched.
import { GraphBuilder } from "./builder.ts";
import type { Graph } from "./graph.ts";
import type { Node, Value } from "./types.ts";

type Lowering = (b: GraphBuilder, node: Node) => Value[] | null;

const LOWERINGS: Record<string, Lowering> = {
  BatchNormalization: (b, node) => (node.attrs.training_mode?.value === 1 ? plainBatchNorm(b, node) : null),
  LogSoftmax: (b, node) => plainLogSoftmax(b, node),
};

/** Rewrites `graph` in place for the WebGPU EP; returns how many nodes of each op were replaced. */
export function lowerForWebGpu(graph: Graph): Record<string, number> {
  const lowered: Record<string, number> = {};
  for (let i = 0; i < graph.nodes.length; i++) {
    const node = graph.nodes[i];
    const lowering = LOWERINGS[node.op];
    if (!lowering) continue;
    const before = graph.nodes.length;
    const replacement = lowering(new GraphBuilder(graph.name, graph), node);
    if (!replacement) continue;
    const added = graph.nodes.splice(before);
    node.outputs.forEach((orig, k) => adopt(replacement[k], orig));
    graph.nodes.splice(i, 1, ...added);
    i += added.length - 1;
    lowered[node.op] = (lowered[node.op] ?? 0) + 1;
  }
  return lowered;
}

/** Makes `orig` the output of the node that computes `fresh` (so consumers of `orig` read it). */
function adopt(fresh: Value, orig: Value): void {
  const producer = fresh.producer!;
  producer.outputs[producer.outputs.indexOf(fresh)] = orig;
  orig.producer = producer;
}

function plainBatchNorm(b: GraphBuilder, node: Node): Value[] {
  const [x, scale, bias, mean, variance] = node.inputs as Value[];
  const eps = node.attrs.epsilon?.value ?? 1e-5;
  const m = node.attrs.momentum?.value ?? 0.9;
  const rank = x.shape.length;
  const axes = [0, ...[...Array(rank - 2).keys()].map((a) => a + 2)];
  const perChannel = (v: Value) => b.reshape(v, [-1, ...Array(rank - 2).fill(1)]);
  return b.scope(`${node.name}/plain`, () => {
    const mu = b.reduceMean(x, axes);
    const xc = b.sub(x, mu);
    const batchVar = b.reduceMean(b.mul(xc, xc), axes);
    const invStd = b.op1("Reciprocal", [b.sqrt(b.add(batchVar, b.scalar(eps as number, x.dtype)))]);
    const y = b.add(b.mul(xc, b.mul(invStd, perChannel(scale))), perChannel(bias));
    const outs = [y];
    const running = (old: Value, batch: Value) =>
      b.add(b.scale(old, m as number), b.scale(b.reshape(batch, [-1]), 1 - (m as number)));
    if (node.outputs.length > 1) outs.push(running(mean, mu));
    if (node.outputs.length > 2) outs.push(running(variance, batchVar));
    return outs;
  });
}

function plainLogSoftmax(b: GraphBuilder, node: Node): Value[] {
  const x = node.inputs[0]!;
  const axis = (node.attrs.axis?.value as number | undefined) ?? -1;
  return b.scope(`${node.name}/plain`, () => {
    const shifted = b.sub(x, b.op1("ReduceMax", [x, b.ints([axis])], { keepdims: 1 }));
    return [b.sub(shifted, b.log(b.reduceSum(b.exp(shifted), [axis])))];
  });
}
