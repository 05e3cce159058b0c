// The tables' percent cells: two decimals, and a mean gap that rounds to zero reads "0.00", not "-0.00".
import { describe, expect, it } from "vitest";
import { mean, percent, populationSd } from "../../gpu-cluster/cli/summary-stats.ts";

describe("percent cells", () => {
  it("round to two decimals and never print a negative zero", () => {
    expect(percent(0.9158)).toBe("91.58");
    expect(percent(-0.0001)).toBe("-0.01");
    expect(percent(mean([-0.0001, 0, 0]))).toBe("0.00");
    expect(percent(-0.00004999)).toBe("0.00");
    for (let i = 0; i < 200; i++) {
      const xs = Array.from({ length: 3 }, () => (Math.random() - 0.5) * 1e-4);
      const s = percent(mean(xs));
      expect(s).toMatch(/^-?\d+\.\d\d$/);
      expect(s).not.toBe("-0.00");
      expect(Number(s)).toBeCloseTo(100 * mean(xs), 2);
      expect(Number(percent(populationSd(xs)))).toBeGreaterThanOrEqual(0);
    }
  });
});
