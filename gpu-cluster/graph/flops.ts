// Multiply-add work of a graph, counted from its shapes: 2 FLOPs per multiply-add of Conv,
// ConvTranspose, Gemm and MatMul (the ops that dominate CNN time; elementwise work is not
// counted). Symbolic dims (the batch "N") are given by the caller. Used by the benchmarks.
import type { Graph } from "./graph.ts";
import type { Shape } from "./types.ts";

/** A symbolic dim is a symbol or a product of symbols and numbers ("N*49" after a flatten). */
function dims(shape: Shape, symbols: Record<string, number>): number[] {
  return shape.map((d) =>
    typeof d === "number"
      ? d
      : d.split("*").reduce((p, f) => p * (symbols[f] ?? (/^\d+$/.test(f) ? Number(f) : NaN)), 1),
  );
}

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

export function countFlops(g: Graph, symbols: Record<string, number> = {}): number {
  let total = 0;
  for (const n of g.liveNodes()) {
    const shapeOf = (i: number) => dims(n.inputs[i]!.shape, symbols);
    const out = dims(n.outputs[0].shape, symbols);
    if (n.op === "Conv") {
      const w = shapeOf(1);
      total += 2 * prod(out) * (w[1] * prod(w.slice(2)));
    } else if (n.op === "ConvTranspose") {
      const x = shapeOf(0),
        w = shapeOf(1);
      total += 2 * prod(x) * w[1] * prod(w.slice(2));
    } else if (n.op === "Gemm" || n.op === "MatMul") {
      const a = shapeOf(0);
      const transA = n.op === "Gemm" && n.attrs.transA?.kind === "int" && n.attrs.transA.value === 1;
      const k = transA ? a[a.length - 2] : a[a.length - 1];
      total += 2 * prod(out) * k;
    }
  }
  return total;
}
