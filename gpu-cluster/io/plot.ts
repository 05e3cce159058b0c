// Line charts as PNG (results a person would rather look at than read): Vega-Lite describes the
// chart, Vega renders it to SVG without a browser, resvg rasterises it. Series are lines with
// optional ± bands; reference points (published figures) are unconnected markers; horizontal
// rules mark ceilings such as the teacher's accuracy.
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { writeFileAtomic } from "./atomic-write.ts";

export interface ChartPoint {
  x: number;
  y: number;
  /** Half-width of the ± band at this point (a standard deviation, say). */
  err?: number;
}

export interface LineChart {
  title: string;
  x: { label: string; log?: boolean };
  /** With min and max, what lies outside is cut off (not squeezed onto the border). */
  y: { label: string; min?: number; max?: number };
  /** Measured series: a line with points, and a band where points carry `err`. */
  series: { name: string; points: ChartPoint[] }[];
  /** Reference figures: markers only, one shape per name. */
  references?: { name: string; points: ChartPoint[] }[];
  /** The references' legend title (default "published"). */
  referencesTitle?: string;
  /** Horizontal lines across the chart. */
  rules?: { name: string; y: number }[];
}

type Side = "below" | "above" | undefined;

/** Where a set of values lies against the y range: wholly below it, wholly above it, or (partly) on it. */
function offChart(values: number[], y: LineChart["y"]): Side {
  if (y.min !== undefined && values.every((v) => v < y.min!)) return "below";
  if (y.max !== undefined && values.every((v) => v > y.max!)) return "above";
  return undefined;
}

function spec(c: LineChart): TopLevelSpec {
  const rows = (kind: string, sets: { name: string; points: ChartPoint[] }[]) =>
    sets.flatMap((s) =>
      s.points.map((p) => ({ kind, name: s.name, x: p.x, y: p.y, lo: p.y - (p.err ?? 0), hi: p.y + (p.err ?? 0) })),
    );
  // What lies wholly off the y range is left out of the drawing and said so in the legend: resvg
  // 2.6 aborts the process on a clipped group drawn wholly outside the picture (thx/resvg-js#413).
  const series = c.series.map((s) => {
    const side = offChart(
      s.points.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)]),
      c.y,
    );
    return { ...s, name: side ? `${s.name} (${side} the chart)` : s.name, drawn: !side };
  });
  const drawn = series.filter((s) => s.drawn);
  const references = (c.references ?? []).map((r) => ({
    ...r,
    points: r.points.filter((p) => !offChart([p.y], c.y)),
  }));
  const rules = (c.rules ?? []).filter((r) => !offChart([r.y], c.y));
  // every name keeps its colour and legend entry, drawn or not
  const names = [...series, ...(c.references ?? []), ...(c.rules ?? [])].map((s) => s.name);
  const xs = [...c.series, ...(c.references ?? [])].flatMap((s) => s.points.map((p) => p.x));
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  const x = {
    field: "x",
    type: "quantitative" as const,
    title: c.x.label,
    scale: {
      type: c.x.log ? ("log" as const) : ("linear" as const),
      // a little room either side, so the first and last markers are not cut by the frame
      domain: c.x.log ? [lo / 1.15, hi * 1.15] : [lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo)],
      nice: false,
    },
  };
  const y = {
    field: "y",
    type: "quantitative" as const,
    title: c.y.label,
    scale: {
      zero: false,
      domain: c.y.min !== undefined && c.y.max !== undefined ? [c.y.min, c.y.max] : undefined,
    },
  };
  const color = {
    field: "name",
    type: "nominal" as const,
    title: null,
    scale: { domain: [...new Set(names)] },
    legend: { labelLimit: 320 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: c.title,
    width: 520,
    height: 320,
    background: "white",
    layer: [
      {
        data: { values: rows("series", drawn) },
        mark: { type: "errorband", opacity: 0.25, clip: true },
        encoding: { x, y: { ...y, field: "lo" }, y2: { field: "hi" }, color },
      },
      {
        data: { values: rows("series", drawn) },
        mark: { type: "line", point: true, clip: true },
        encoding: { x, y, color },
      },
      // no reference layer without references: an empty one would still title a legend
      ...(references.some((r) => r.points.length > 0)
        ? [
            {
              data: { values: rows("reference", references) },
              mark: { type: "point", filled: true, size: 70, opacity: 0.9, clip: true },
              encoding: {
                x,
                y,
                shape: { field: "name", type: "nominal", title: c.referencesTitle ?? "published" },
                color,
              },
            },
          ]
        : []),
      {
        data: { values: rules.map((r) => ({ name: r.name, y: r.y })) },
        mark: { type: "rule", strokeDash: [6, 4] },
        encoding: { y, color },
      },
    ],
    resolve: { legend: { shape: "independent" } },
  } as TopLevelSpec;
}

export async function lineChartSvg(c: LineChart): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec(c)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeLineChartPng(path: string, c: LineChart): Promise<void> {
  const svg = await lineChartSvg(c);
  writeFileAtomic(
    path,
    new Resvg(svg, { font: { loadSystemFonts: true }, background: "white", fitTo: { mode: "zoom", value: 2 } })
      .render()
      .asPng(),
  );
}
