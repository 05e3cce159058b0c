// Randomised composite graphs (random-graph-gen.ts) against central finite differences: chains and
// DAGs of 2–5 registered operators with broadcasting (lower-rank and size-1 operands), reductions
// with keepdims 0/1, several differentiated inputs per node. Every rule passes on its own
// (gradient-rules.test.ts); these catch rules that do not compose. A failure prints the seed, the
// shrunk graph as an expression and its spec; GRAD_FUZZ_SEED / GRAD_FUZZ_RUNS replay or lengthen.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DIFFERENTIABLE_OPS } from "../../gpu-cluster/autodiff/registry.ts";
import { checkGradient } from "./gradcheck.ts";
import { forcedArb, OPS, specArb, toCase, type GraphSpec } from "./random-graph-gen.ts";

const SEED = Number(process.env.GRAD_FUZZ_SEED ?? 11);
const RUNS = Number(process.env.GRAD_FUZZ_RUNS ?? 300);

/** Step and bound per dtype. Composites are less well conditioned than single rules (a batch norm
 *  over two values after a division, say), so float64 takes a smaller step and a 10× looser bound
 *  than the per-rule checks; float32 the whole-network bound. Measured over 2000 random graphs:
 *  float64 ≤ 5.3e-7 (ε = 1e-6), float32 ≤ 3.0e-3 (ε = 3e-3). A wrong rule is off by ≳ 1e-2. */
const CHECK = { float64: { eps: 1e-6, tol: 1e-5 }, float32: { eps: 3e-3, tol: 3e-2 } } as const;

async function check(spec: GraphSpec): Promise<void> {
  const c = toCase(spec);
  const { eps, tol } = CHECK[c.dtype];
  let err: number;
  try {
    err = (await checkGradient({ ...c, eps })).maxRelError;
  } catch (e) {
    throw new Error(`${c.name} (${c.dtype}): ${(e as Error).message}`);
  }
  if (!(err < tol))
    throw new Error(`${c.name} (${c.dtype}): max relative error ${err.toExponential(2)} (bound ${tol})`);
}

/** One composite per rule, the rule in the middle of three steps (complements the random part). */
const forced = DIFFERENTIABLE_OPS.map((op) => ({ op, spec: fc.sample(forcedArb(op), { seed: SEED, numRuns: 1 })[0] }));

describe("random composite graphs vs central finite differences", () => {
  it(`${RUNS} random graphs, seed ${SEED}`, async () => {
    await fc.assert(fc.asyncProperty(specArb, check), { seed: SEED, numRuns: RUNS });
  });

  it("every registered rule is reached", () => {
    expect(DIFFERENTIABLE_OPS.filter((op) => !(op in OPS))).toEqual([]);
    for (const { op, spec } of forced) expect(toCase(spec).ops, `composite around ${op}`).toContain(op);
    // fc.sample draws the same graphs as fc.assert above for the same seed.
    const reached = new Set(fc.sample(specArb, { seed: SEED, numRuns: RUNS }).flatMap((s) => toCase(s).ops));
    expect(
      DIFFERENTIABLE_OPS.filter((op) => !reached.has(op)),
      "rules no random graph reached",
    ).toEqual([]);
  });

  for (const { op, spec } of forced) it(`composite around ${op}`, () => check(spec));
});
