// The run's report: `report.json` for machines (schema below, fractions in [0, 1]) and
// `report.md` for people. The baselines sit beside the distilled result in one table, with the
// same student training, so the reader can see what the synthetic images add over real ones.
import { z } from "zod";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { pairedDifference } from "./student-inits.ts";
import { percent, sampleSd, signedPercent } from "./summary-stats.ts";

const fraction = z.number().min(0).max(1);

export const studentResultSchema = z.object({
  /** Trained on the recovered images with the label table's crops and soft labels. */
  distilled: fraction,
  /** Baseline (a): a random real subset of the same IPC, hard labels (absent with --no-baselines). */
  random_hard: fraction.optional(),
  /** Baseline (b): the same random subset with the same soft relabelling (absent with --no-baselines). */
  random_soft: fraction.optional(),
  /** With --student-inits k > 1: every draw, in the order of `seeds` (the columns above are their means). */
  draws: z
    .object({
      seeds: z.array(z.number().int()),
      distilled: z.array(fraction),
      random_hard: z.array(fraction).optional(),
      random_soft: z.array(fraction).optional(),
    })
    .optional(),
});

export const reportSchema = z.object({
  dataset: z.string(),
  ipc: z.number().int().positive(),
  seed: z.number().int(),
  /** The first student draw's initial-weight seed (--student-seed; absent before 2026-12-05: then `seed`). */
  student_seed: z.number().int().optional(),
  /** Baseline (c): the teacher's top-1 on the real val set (trained on the full data). */
  teacher_accuracy: fraction,
  students: z.record(z.string(), studentResultSchema),
  /** Each student's width (absent in reports written before 2026-12-06; it follows the teacher's, so it varies with the data). */
  student_widths: z.record(z.string(), z.number().int().positive()).optional(),
  /** --student-lr-stretch above 1: the students' cosine stretch ζ (EDC's smoothed schedule); absent: decay to 0. */
  student_lr_stretch: z.number().min(1).optional(),
  /** --student-hard-phase above 0: the share of a soft-labelled student's epochs on hard labels (HALD) and their smoothing. */
  student_hard_phase: z.object({ fraction: z.number().gt(0).lt(1), smoothing: z.number().min(0).max(1) }).optional(),
  /** Epochs every student above trained for (absent in reports written before 2026-12-03). */
  student_epochs: z.number().int().positive().optional(),
  /** --image-bits below 8: the stored images' bits per pixel, and (a)'s and (b)'s epochs (the same crops on their --ipc images). */
  image_bits: z.number().int().positive().optional(),
  random_epochs: z.number().int().positive().optional(),
  /** What recover's gate kept, and each candidate student's top-1 on unseen training images (absent where no gate ran, and before 2026-12-04). */
  gate: z
    .object({
      kept: z.string(),
      scores: z.record(z.string(), fraction),
      /** --gate-screen: each screened draw's short student on its own training images, and their epochs. */
      screen: z.object({ epochs: z.number().int().positive(), scores: z.record(z.string(), fraction) }).optional(),
    })
    .optional(),
  classes: z.number().int().positive(),
  images: z.number().int().positive(),
  shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  val_images: z.number().int().positive(),
  teacher: z.object({ arch: z.string(), source: z.enum(["trained", "imported"]), file: z.string() }),
  label_table: z.object({
    file: z.string(),
    bytes: z.number().int(),
    /** What full fp32 labels for the same crops would take. */
    fp32_bytes: z.number().int(),
    epochs: z.number().int(),
    top_k: z.number().int(),
    quant: z.string(),
  }),
  image_bytes: z.object({ npy: z.number().int(), png: z.number().int(), packed: z.number().int().optional() }),
  seconds: z.record(z.string(), z.number()),
  ep: z.string(),
  created: z.string(),
  command: z.string(),
});

export type StudentResult = z.infer<typeof studentResultSchema>;
export type Report = z.infer<typeof reportSchema>;

export function parseReport(json: unknown): Report {
  return reportSchema.parse(json);
}

function pct(x: number): string {
  return `${percent(x)} %`;
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

export function renderReportMarkdown(r: Report): string {
  const lines: string[] = [];
  lines.push(`# Distillation report: ${r.dataset}, IPC ${r.ipc}, seed ${r.seed}`, "");
  lines.push(
    `${r.images} synthetic images (${r.classes} classes × ${r.images / r.classes}` +
      (r.image_bits ? ` at ${r.image_bits} bits per pixel: the bytes of ${r.ipc} 8-bit images per class` : "") +
      `), ${r.shape.join(" × ")} each; ` +
      `top-1 on the real val set (${r.val_images} images).`,
    "",
  );
  lines.push(
    `Teacher: ${r.teacher.arch} (${r.teacher.source}, \`${r.teacher.file}\`), top-1 **${pct(r.teacher_accuracy)}** on the full data (baseline c).`,
    "",
  );
  lines.push(
    "| student | distilled (ours) | random real, hard labels (a) | random real, same soft labels (b) | ours − (b) |",
  );
  lines.push("|---|---:|---:|---:|---:|");
  for (const [arch, s] of Object.entries(r.students)) {
    const d = s.draws;
    // with several draws: their mean ± their sample SD
    const cell = (v: number | undefined, all: number[] | undefined) =>
      v === undefined ? "– (skipped)" : all ? `${pct(v)} ± ${percent(sampleSd(all))}` : pct(v);
    let gap = "–";
    if (d?.random_soft) {
      const p = pairedDifference(d.distilled, d.random_soft);
      gap = `${signedPercent(p.mean)} ± ${percent(p.se)} pt (ahead on ${p.ahead}/${p.draws} draws)`;
    } else if (s.random_soft !== undefined) gap = `${signedPercent(s.distilled - s.random_soft)} pt`;
    lines.push(
      `| ${arch} | ${cell(s.distilled, d?.distilled)} | ${cell(s.random_hard, d?.random_hard)} | ${cell(s.random_soft, d?.random_soft)} | ${gap} |`,
    );
  }
  lines.push("");
  const drawn = Object.values(r.students).find((s) => s.draws)?.draws;
  if (drawn)
    lines.push(
      `Each cell is the mean ± SD of ${drawn.seeds.length} students from initial-weight seeds ${drawn.seeds.join(", ")} (\`--student-inits\`); ` +
        "ours − (b) pairs the draws (the same initial weights on both sets): mean ± its standard error.",
      "",
    );
  if (r.gate) {
    const scores = Object.entries(r.gate.scores).map(([name, v]) => `${name} ${pct(v)}`);
    lines.push(
      `Recover's gate kept the **${r.gate.kept}** images (ours); its students on training images none of the candidates came from: ${scores.join(", ")}.`,
      "",
    );
    if (r.gate.screen) {
      const screened = Object.entries(r.gate.screen.scores).map(([name, v]) => `${name} ${pct(v)}`);
      lines.push(
        `Its random draws were the best of ${screened.length - 1} screened by ${r.gate.screen.epochs}-epoch students on training images of their own (\`--gate-screen\`): ${screened.join(", ")}.`,
        "",
      );
    }
  }
  const epochs =
    r.student_epochs === undefined
      ? ""
      : r.random_epochs === undefined || r.random_epochs === r.student_epochs
        ? ` (${r.student_epochs} epochs)`
        : ` (ours ${r.student_epochs} epochs, (a) and (b) ${r.random_epochs}: the same number of crops)`;
  const stretch = r.student_lr_stretch
    ? `, its cosine learning rate stretched ${r.student_lr_stretch}× (ending at ${pct((1 + Math.cos(Math.PI / r.student_lr_stretch)) / 2)} of the start)`
    : "";
  const hp = r.student_hard_phase;
  const hard = hp
    ? `, the middle ${pct(hp.fraction)} of a soft-labelled student's epochs on hard labels smoothed by ${hp.smoothing} (HALD)`
    : "";
  lines.push(
    `Every student is trained from scratch with the same recipe${epochs}${stretch}${hard}; ` +
      (r.image_bits
        ? `(a) and (b) use a random real subset of ${r.ipc} 8-bit images per class (the same bytes), `
        : "(a) and (b) use a random real subset of the same size, ") +
      "(b) with the soft labels of the same crop schedule, so (b) isolates what the synthetic images add over the relabelling.",
    "",
  );
  const lt = r.label_table;
  lines.push("## Sizes", "");
  lines.push(`| what | bytes |`, `|---|---:|`);
  lines.push(`| images, lossless (\`images.npy\`) | ${bytes(r.image_bytes.npy)} |`);
  lines.push(`| images, PNG (\`images/\`) | ${bytes(r.image_bytes.png)} |`);
  if (r.image_bytes.packed !== undefined)
    lines.push(`| images, packed (\`images.dpk\`, ${r.image_bits} bits per pixel) | ${bytes(r.image_bytes.packed)} |`);
  lines.push(
    `| soft labels, label table (\`${lt.file}\`: ${lt.epochs} epochs, top-${lt.top_k}, ${lt.quant}) | ${bytes(lt.bytes)} |`,
  );
  lines.push(
    `| soft labels as full fp32 (same crops) | ${bytes(lt.fp32_bytes)} (${(lt.fp32_bytes / Math.max(1, lt.bytes)).toFixed(1)}× larger) |`,
  );
  lines.push("");
  lines.push("## Time", "");
  lines.push("| stage | seconds |", "|---|---:|");
  for (const [stage, s] of Object.entries(r.seconds)) lines.push(`| ${stage} | ${s.toFixed(1)} |`);
  lines.push("", `Execution provider: ${r.ep}. Created ${r.created}.`, "", "```", r.command, "```", "");
  return lines.join("\n");
}

export function writeReport(dir: string, r: Report): void {
  const checked = parseReport(r);
  writeJsonAtomic(`${dir}/report.json`, checked);
  writeFileAtomic(`${dir}/report.md`, renderReportMarkdown(checked));
}
