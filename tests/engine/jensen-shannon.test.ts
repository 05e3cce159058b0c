// The Jensen–Shannon divergence of recover's competition term against its definition in float64:
// zero for equal rows, symmetric, bounded by ln 2, and near ln 2 for confident rows on different classes.
import { describe, expect, it } from "vitest";
import { GraphBuilder, tensor } from "../../gpu-cluster/graph/builder.ts";
import { jensenShannon } from "../../gpu-cluster/autodiff/losses.ts";
import { Program } from "../../gpu-cluster/runtime/program.ts";
import { randn } from "./gradcheck.ts";

async function graphJs(p: Float64Array, q: Float64Array, rows: number, T: number): Promise<number> {
  const b = new GraphBuilder("js");
  const cols = p.length / rows;
  const x = b.input("p", "float64", [rows, cols]);
  const y = b.input("q", "float64", [rows, cols]);
  b.output(jensenShannon(b, x, y, T), "js");
  const program = await Program.compile(b.graph, []);
  const out = await program.run({ p: tensor("float64", [rows, cols], p), q: tensor("float64", [rows, cols], q) });
  await program.release();
  return (out.js.data as Float64Array)[0];
}

function definition(p: Float64Array, q: Float64Array, rows: number, T: number): number {
  const cols = p.length / rows;
  const soft = (z: Float64Array, r: number) => {
    const row = Array.from(z.subarray(r * cols, (r + 1) * cols), (v) => v / T);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const P = soft(p, r),
      Q = soft(q, r);
    const kl = (A: number[]) => A.reduce((a, v, k) => a + (v > 0 ? v * Math.log(v / ((P[k] + Q[k]) / 2)) : 0), 0);
    total += (kl(P) + kl(Q)) / 2;
  }
  return total / rows;
}

describe("Jensen–Shannon divergence (recover's competition term)", () => {
  it("equals its definition on random logits, is symmetric and lies in [0, ln 2]", async () => {
    for (const [seed, rows, cols, T] of [
      [1, 4, 10, 4],
      [2, 3, 7, 1],
      [3, 5, 3, 0.5],
    ]) {
      const p = randn(rows * cols, seed).map((v) => 3 * v),
        q = randn(rows * cols, seed + 50).map((v) => 3 * v);
      const js = await graphJs(p, q, rows, T);
      expect(js).toBeCloseTo(definition(p, q, rows, T), 10);
      expect(await graphJs(q, p, rows, T)).toBeCloseTo(js, 12);
      expect(js).toBeGreaterThan(0);
      expect(js).toBeLessThanOrEqual(Math.LN2);
      expect(await graphJs(p, p, rows, T)).toBeCloseTo(0, 12);
    }
    // confident on different classes: close to the bound, and finite where both rows underflow
    const a = Float64Array.from([800, 0, 0]),
      c = Float64Array.from([0, 800, 0]);
    expect(await graphJs(a, c, 1, 1)).toBeCloseTo(Math.LN2, 6);
  });
});
