// The tables' percent cells and signed gaps: two decimals, and a figure that rounds to zero never prints "-0.00".
import { describe, expect, it } from "vitest";
import { mean, percent, populationSd, signedPercent } from "../../gpu-cluster/cli/summary-stats.ts";
import { renderReportMarkdown } from "../../gpu-cluster/cli/report.ts";
import { reportFixture } from "./report-fixture.ts";

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

describe("signed gaps", () => {
  it("carry their sign, and a gap that rounds to zero from below reads +0.00", () => {
    expect(signedPercent(0.0033)).toBe("+0.33");
    expect(signedPercent(-0.001)).toBe("-0.10");
    expect(signedPercent(0)).toBe("+0.00");
    expect(signedPercent(0.9105 - 0.91051)).toBe("+0.00");
    for (let i = 0; i < 200; i++) {
      const x = (Math.random() - 0.5) * 0.02;
      const s = signedPercent(x);
      expect(s).toMatch(/^[+-]\d+\.\d\d$/);
      expect(Number(s)).toBeCloseTo(100 * x, 2);
    }
  });

  it("the run's report prints ours − (b) through them", () => {
    const report = reportFixture({
      ipc: 10,
      seed: 0,
      students: { "convnet-3": { distilled: 0.9105, random_hard: 0.7, random_soft: 0.91051 } },
    });
    expect(renderReportMarkdown(report)).toContain("| convnet-3 | 91.05 % | 70.00 % | 91.05 % | +0.00 pt |");
  });
});
