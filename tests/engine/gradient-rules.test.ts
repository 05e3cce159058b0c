// Every gradient rule in the registry against central finite differences (cases in
// gradient-cases.ts). float32 cases use the looser TOLERANCE.float32 = 1e-2 relative.
import { describe, expect, it } from "vitest";
import { DIFFERENTIABLE_OPS } from "../../gpu-cluster/autodiff/registry.ts";
import { checkGradient, TOLERANCE } from "./gradcheck.ts";
import { CASES } from "./gradient-cases.ts";

describe("gradient rules vs central finite differences", () => {
  it("every registered rule has at least one check", () => {
    const covered = new Set(CASES.flatMap((c) => c.ops));
    expect(DIFFERENTIABLE_OPS.filter((op) => !covered.has(op))).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.name} (${c.dtype})`, async () => {
      const r = await checkGradient(c);
      expect(r.checks).toBeGreaterThanOrEqual(4);
      expect(r.maxRelError, `max relative error ${r.maxRelError}`).toBeLessThan(TOLERANCE[c.dtype]);
    });
  }
});
