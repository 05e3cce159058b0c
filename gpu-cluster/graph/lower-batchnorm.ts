// Training-mode BatchNormalization as plain ops (ReduceMean, Sub, Mul, Sqrt, …), for execution
// providers without a training-mode BN kernel: ORT's WebGPU EP refuses one ("BatchNormalization
// trainingMode is not supported yet", onnxruntime-node and -web 1.30). The node is replaced where
// it stands, its outputs keep their values, so every consumer (and the backward pass that autodiff
// built from the BN node, which already is plain ops) is untouched. Same numbers as ONNX's
// definition: population batch variance, running = input·momentum + batch·(1 − momentum).
import { GraphBuilder } from "./builder.ts";
import type { Graph } from "./graph.ts";
import type { Node, Value } from "./types.ts";

const isTrainingBatchNorm = (n: Node) => n.op === "BatchNormalization" && n.attrs.training_mode?.value === 1;

/** Replaces every training-mode BatchNormalization of `graph` in place; returns how many. */
export function lowerTrainingBatchNorm(graph: Graph): number {
  let lowered = 0;
  for (let i = 0; i < graph.nodes.length; i++) {
    const node = graph.nodes[i];
    if (!isTrainingBatchNorm(node)) continue;
    const before = graph.nodes.length;
    const replacement = plainBatchNorm(new GraphBuilder(graph.name, graph), node);
    const added = graph.nodes.splice(before);
    node.outputs.forEach((orig, k) => adopt(replacement[k], orig));
    graph.nodes.splice(i, 1, ...added);
    i += added.length - 1;
    lowered++;
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
