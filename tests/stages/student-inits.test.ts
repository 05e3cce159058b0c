// --student-inits' arithmetic and its report: seeds one per draw and never shared between run
// seeds, paired differences against a direct computation on random data, and the markdown
// table carrying means, spreads and the paired gap.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pairedDifference, studentInitSeeds } from "../../gpu-cluster/cli/student-inits.ts";
import { populationSd, sampleSd } from "../../gpu-cluster/cli/summary-stats.ts";
import { renderReportMarkdown } from "../../gpu-cluster/cli/report.ts";
import { reportFixture } from "./report-fixture.ts";

const accuracy = fc.double({ min: 0, max: 1, noNaN: true });

describe("student draws", () => {
  it("the first draw is the base seed; run seeds below the step never share a draw", () => {
    expect(studentInitSeeds(3, 1)).toEqual([3]);
    expect(studentInitSeeds(3, 3)).toEqual([3, 1003, 2003]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), (a, b) => {
        fc.pre(a !== b);
        const shared = studentInitSeeds(a, 5).filter((s) => studentInitSeeds(b, 5).includes(s));
        return shared.length === 0;
      }),
    );
  });

  it("pairedDifference is the mean, standard error and lead count of a − b draw by draw", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(accuracy, accuracy), { minLength: 2, maxLength: 12 }), (pairs) => {
        const a = pairs.map((p) => p[0]);
        const b = pairs.map((p) => p[1]);
        const p = pairedDifference(a, b);
        const d = pairs.map(([x, y]) => x - y);
        const m = d.reduce((s, x) => s + x, 0) / d.length;
        const v = d.reduce((s, x) => s + (x - m) ** 2, 0) / (d.length - 1);
        expect(p.mean).toBeCloseTo(m, 12);
        expect(p.se).toBeCloseTo(Math.sqrt(v / d.length), 12);
        expect(p.ahead).toBe(d.filter((x) => x > 0).length);
        expect(p.draws).toBe(d.length);
        // swapping the sets flips the mean and keeps the spread
        const q = pairedDifference(b, a);
        expect(q.mean).toBeCloseTo(-m, 12);
        expect(q.se).toBeCloseTo(p.se, 12);
      }),
    );
    expect(sampleSd([0.9])).toBe(0);
    expect(sampleSd([0.9, 0.92])).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    // the results tables' "± std over seeds" divides by n
    expect(populationSd([0.9, 0.92])).toBeCloseTo(0.01, 12);
    expect(populationSd([0.9])).toBe(0);
    expect(() => pairedDifference([0.9, 0.91], [0.9])).toThrow(/paired draws differ in number: 2 and 1/);
  });

  it("the report shows each column's mean ± SD and ours − (b) paired, with the seeds", () => {
    const report = reportFixture({
      ipc: 10,
      seed: 0,
      student_seed: 0,
      teacher_accuracy: 0.92,
      students: {
        "convnet-3": {
          distilled: 0.912,
          random_hard: 0.7,
          random_soft: 0.9105,
          draws: {
            seeds: [0, 1000, 2000],
            distilled: [0.913, 0.911, 0.912],
            random_hard: [0.69, 0.7, 0.71],
            random_soft: [0.912, 0.909, 0.9105],
          },
        },
      },
    });
    const md = renderReportMarkdown(report);
    // differences 0.1, 0.2, 0.15 pt: mean 0.15, SD 0.05, SE 0.05/√3 = 0.029
    expect(md).toContain(
      "| convnet-3 | 91.20 % ± 0.10 | 70.00 % ± 1.00 | 91.05 % ± 0.15 | +0.15 ± 0.03 pt (ahead on 3/3 draws) |",
    );
    expect(md).toContain("mean ± SD of 3 students from initial-weight seeds 0, 1000, 2000");
    // one draw: the table as before
    const single = renderReportMarkdown({
      ...report,
      students: { "convnet-3": { distilled: 0.912, random_hard: 0.7, random_soft: 0.9105 } },
    });
    expect(single).toContain("| convnet-3 | 91.20 % | 70.00 % | 91.05 % | +0.15 pt |");
    expect(single).not.toContain("initial-weight seeds");
  });
});
