// Charts render to a real PNG without a browser: decoded, sized as asked (2× zoom), with the
// series' colours drawn and nothing half-written left beside it.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "fast-png";
import { lineChartSvg, writeLineChartPng, type LineChart } from "../../gpu-cluster/io/plot.ts";

const chart: LineChart = {
  title: "accuracy vs IPC",
  x: { label: "IPC", log: true },
  y: { label: "top-1 (%)" },
  series: [
    {
      name: "ours",
      points: [
        { x: 1, y: 95, err: 1 },
        { x: 10, y: 98.6, err: 0.1 },
        { x: 50, y: 99, err: 0.05 },
      ],
    },
  ],
  references: [
    {
      name: "DC",
      points: [
        { x: 1, y: 91.7 },
        { x: 10, y: 97.4 },
      ],
    },
  ],
  rules: [{ name: "teacher", y: 99.4 }],
};

describe("line charts", () => {
  it("writes a PNG with the series drawn, atomically", async () => {
    const dir = mkdtempSync(join(tmpdir(), "plot-"));
    const path = join(dir, "chart.png");
    await writeLineChartPng(path, chart);
    expect(readdirSync(dir)).toEqual(["chart.png"]);
    const png = decode(readFileSync(path));
    expect(png.width).toBeGreaterThan(1000);
    expect(png.height).toBeGreaterThan(600);
    // Count strongly coloured pixels (lines, points, band): a blank chart has none.
    const ch = png.channels;
    let coloured = 0;
    for (let i = 0; i < png.width * png.height; i++) {
      const [r, g, b] = [png.data[i * ch], png.data[i * ch + 1], png.data[i * ch + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
    }
    expect(coloured).toBeGreaterThan(500);
  });

  it("names every series, reference and rule in the SVG", async () => {
    const svg = await lineChartSvg(chart);
    for (const name of ["ours", "DC", "teacher", "accuracy vs IPC"]) expect(svg).toContain(name);
  });

  it("titles the published legend only when there are references", async () => {
    expect(await lineChartSvg(chart)).toContain("published");
    expect(await lineChartSvg({ ...chart, references: [] })).not.toContain("published");
    expect(await lineChartSvg({ ...chart, references: undefined })).not.toContain("published");
  });

  // resvg-js 2.6.2 aborts the whole process (uncatchable) on a clipped group drawn wholly outside
  // the picture: a baseline far under the y range used to kill `npm run results:mnist` at its end.
  it("leaves out what lies wholly off the y range, names it in the legend, and still draws the rest", async () => {
    const cut: LineChart = {
      ...chart,
      y: { label: "top-1 (%)", min: 90, max: 100 },
      series: [
        ...chart.series,
        {
          name: "(a)",
          points: [
            { x: 1, y: 43, err: 2 },
            { x: 10, y: 52, err: 1 },
            { x: 50, y: 75 },
          ],
        },
        {
          name: "over",
          points: [
            { x: 1, y: 120 },
            { x: 50, y: 130 },
          ],
        },
      ],
      references: [
        {
          name: "DC",
          points: [
            { x: 1, y: 20 },
            { x: 10, y: 97.4 },
          ],
        },
      ],
      rules: [
        { name: "teacher", y: 99.4 },
        { name: "chance", y: 10 },
      ],
    };
    const svg = await lineChartSvg(cut);
    for (const name of ["(a) (below the chart)", "over (above the chart)", "chance", "ours"])
      expect(svg).toContain(name);
    expect(svg).not.toContain("y: 43");
    const dir = mkdtempSync(join(tmpdir(), "plot-"));
    await writeLineChartPng(join(dir, "cut.png"), cut);
    expect(decode(readFileSync(join(dir, "cut.png"))).width).toBeGreaterThan(1000);
  });
});
