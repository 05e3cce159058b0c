// The inspection summary of a label table: what `distill inspect --json` prints and what the
// inspector page shows, computed by the same code from the same LabelStats so that the two
// always agree. Pure (no I/O): runs in Node and browsers.
import { QUANT_U8, hasBox } from "../../shared/label-table/index.ts";
import { worstClasses, type LabelStats } from "./types.ts";

/** Confusion matrices are put in the summary up to this many classes (C² numbers of JSON). */
export const SUMMARY_CONFUSION_CLASSES = 100;

export interface InspectSummary {
  /** Summary format version. */
  format: 1;
  /** Size of the table file in bytes. */
  bytes: number;
  /** What the same labels take as full fp32 vectors (crops × classes × 4). */
  fp32Bytes: number;
  /** fp32Bytes / bytes. */
  compression: number;
  header: {
    runId: string;
    seed: number;
    classes: number;
    images: number;
    epochs: number;
    epochStart: number;
    epochCount: number;
    cropsPerImage: number;
    k: number;
    quant: "u8" | "f16";
    recordSize: number;
    hasBox: boolean;
  };
  /** From the run folder's manifest.json, when there is one. */
  run: { runId: string; dataset: string; ipc: number; resolution: number; teacher: string } | null;
  /** Images per class used for target classes (null: unknown, no agreement). */
  ipc: number | null;
  crops: number;
  agreement: number;
  meanEntropy: number;
  /** Entropy histogram covers [0, entropyMax] nats (ln classes); the others [0, 1]. */
  entropyMax: number;
  meanMaxProb: number;
  meanTopkMass: number;
  bins: number;
  histograms: { entropy: number[]; maxProb: number[]; topkMass: number[] };
  /** Per target class, in class order. */
  classes: { cls: number; name?: string; crops: number; agreement: number }[];
  /** The ten classes with the lowest agreement (ties: more crops, then lower id). */
  worstClasses: { cls: number; name?: string; crops: number; agreement: number }[];
  /** Row = target class, column = top-1 class; null above SUMMARY_CONFUSION_CLASSES classes. */
  confusion: number[][] | null;
}

export interface SummaryContext {
  bytes: number;
  run?: InspectSummary["run"];
  classNames?: string[];
}

export function summarize(s: LabelStats, ctx: SummaryContext): InspectSummary {
  const h = s.header;
  const fp32Bytes = h.epochCount * h.images * h.cropsPerImage * h.classes * 4;
  const named = <T extends { cls: number }>(c: T) => (ctx.classNames ? { ...c, name: ctx.classNames[c.cls] } : c);
  const C = h.classes;
  return {
    format: 1,
    bytes: ctx.bytes,
    fp32Bytes,
    compression: fp32Bytes / ctx.bytes,
    header: {
      runId: h.runId,
      seed: h.seed,
      classes: C,
      images: h.images,
      epochs: h.epochs,
      epochStart: h.epochStart,
      epochCount: h.epochCount,
      cropsPerImage: h.cropsPerImage,
      k: h.k,
      quant: h.quant === QUANT_U8 ? "u8" : "f16",
      recordSize: h.recordSize,
      hasBox: hasBox(h),
    },
    run: ctx.run ?? null,
    ipc: s.ipc,
    crops: s.crops,
    agreement: s.agreement,
    meanEntropy: s.meanEntropy,
    entropyMax: s.entropyMax,
    meanMaxProb: s.meanMaxProb,
    meanTopkMass: s.meanTopkMass,
    bins: s.bins,
    histograms: { entropy: s.entropyHist, maxProb: s.maxProbHist, topkMass: s.topkMassHist },
    classes:
      s.ipc === null
        ? []
        : s.classCrops.map((crops, cls) => named({ cls, crops, agreement: crops ? s.classAgree[cls] / crops : 0 })),
    worstClasses: s.ipc === null ? [] : worstClasses(s, 10).map(named),
    confusion:
      s.confusion && C <= SUMMARY_CONFUSION_CLASSES
        ? Array.from({ length: C }, (_, r) => Array.from(s.confusion!.subarray(r * C, (r + 1) * C)))
        : null,
  };
}

/** Human units: 1234567 → "1.18 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** One text line per bin, adjacent bins merged down to at most `rows` lines: "[0.00, 0.10)  ████▌   1234". */
export function textHistogram(fine: number[], lo: number, hi: number, width = 32, rows = 10): string[] {
  const group = Math.ceil(fine.length / rows);
  const counts: number[] = [];
  for (let i = 0; i < fine.length; i += group) counts.push(fine.slice(i, i + group).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...counts);
  const step = ((hi - lo) / fine.length) * group;
  const blocks = " ▏▎▍▌▋▊▉█";
  return counts.map((c, i) => {
    const eighths = Math.round((c / max) * width * 8);
    const bar = "█".repeat(Math.floor(eighths / 8)) + (eighths % 8 ? blocks[eighths % 8] : "");
    const a = (lo + i * step).toFixed(2),
      b = Math.min(hi, lo + (i + 1) * step).toFixed(2);
    return `  [${a}, ${b}${i === counts.length - 1 ? "]" : ")"}  ${bar.padEnd(width)}  ${c}`;
  });
}

/** The readable report of `distill inspect`. */
export function renderSummary(s: InspectSummary, file: string): string {
  const h = s.header;
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  const label = (c: { cls: number; name?: string }) => (c.name ? `${c.cls} (${c.name})` : String(c.cls));
  const lines = [
    `label table ${file}`,
    `  size            ${formatBytes(s.bytes)} (${s.bytes} B); full fp32 labels would take ${formatBytes(s.fp32Bytes)} (${s.compression >= 1 ? `${s.compression.toFixed(1)}× more` : `${(1 / s.compression).toFixed(1)}× less: k and crop boxes cost more than ${h.classes} floats`})`,
    `  run             ${h.runId}${s.run ? `, dataset ${s.run.dataset}, resolution ${s.run.resolution} px, teacher ${s.run.teacher}` : ""}`,
    `  classes         ${h.classes}`,
    `  images          ${h.images}${s.ipc !== null ? ` (${s.ipc} per class)` : " (images per class unknown: no agreement)"}`,
    `  epochs          ${h.epochCount === h.epochs ? h.epochs : `${h.epochStart}..${h.epochStart + h.epochCount - 1} of ${h.epochs}`}`,
    `  crops/image     ${h.cropsPerImage}`,
    `  top-k           ${h.k}, quantised ${h.quant}, ${h.recordSize} B per record${h.hasBox ? " (with crop boxes)" : ""}`,
    `  crops           ${s.crops}`,
    "",
    `agreement (top-1 = target class)  ${s.ipc === null ? "n/a" : pct(s.agreement)}`,
    `mean entropy                      ${s.meanEntropy.toFixed(4)} nats (max ln ${h.classes} = ${s.entropyMax.toFixed(4)})`,
    `mean max-probability              ${s.meanMaxProb.toFixed(4)}`,
    `mean top-${h.k} mass                   `.slice(0, 34) + s.meanTopkMass.toFixed(4),
    "",
    `entropy (nats)`,
    ...textHistogram(s.histograms.entropy, 0, s.entropyMax),
    `max-probability`,
    ...textHistogram(s.histograms.maxProb, 0, 1),
    `top-${h.k} mass`,
    ...textHistogram(s.histograms.topkMass, 0, 1),
  ];
  if (s.worstClasses.length) {
    lines.push("", "worst classes by agreement");
    for (const c of s.worstClasses)
      lines.push(`  class ${label(c).padEnd(20)} ${pct(c.agreement).padStart(9)}  of ${c.crops} crops`);
  }
  return lines.join("\n") + "\n";
}
