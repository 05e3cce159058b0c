// What `distill continual` leaves: per step of per class order a result.json (schema below), and
// for the whole run continual.json, a table per step (continual.md: mean ± std over the class
// orders) and the curve of top-1 against classes seen with ± bands (continual.png).
import { z } from "zod";
import { IMAGE_BITS } from "../../shared/image-bits.ts";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { writeLineChartPng } from "../io/plot.ts";
import { mean, percent, populationSd as std } from "./summary-stats.ts";

const fraction = z.number().min(0).max(1);

export const stepResultSchema = z.object({
  step: z.number().int().positive(),
  /** Class names seen so far, in arrival order (the students' outputs), and those this step added. */
  seen: z.array(z.string()).min(1),
  added: z.array(z.string()).min(1),
  /** Images in (a)'s and (b)'s memory after this step (classes seen × IPC); ours: `ours` below. */
  memory_images: z.number().int().positive(),
  /** Student epochs of this step. */
  epochs: z.number().int().positive(),
  /** The test set of this step: the real test images of the seen classes, nothing else. */
  test_images: z.number().int().positive(),
  test_classes: z.array(z.string()),
  teacher: z.object({ accuracy: fraction, images: z.number().int().positive(), epochs: z.number().int().positive() }),
  accuracy: z.object({ ours: fraction, random_hard: fraction, random_soft: fraction }),
  /** False with one seen class: a one-output model is right on every test image, nothing is trained. */
  trained: z.boolean(),
  /** The block this step added to memory: its images' classes (student outputs) and crop schedule. */
  block: z.object({
    images: z.number().int().positive(),
    labels: z.array(z.number().int().min(0)),
    schedule: z.object({
      seed: z.number().int(),
      sourceSize: z.number().int().positive(),
      outputSize: z.number().int().positive(),
      scale: z.tuple([z.number(), z.number()]),
      ratio: z.tuple([z.number(), z.number()]),
      flipProb: z.number().min(0).max(1),
      mix: z.object({ kind: z.enum(["none", "cutmix", "mixup"]), alpha: z.number(), prob: z.number() }),
    }),
  }),
  /** Ours' block and memory at its depth: 8 / bits images per class for each of (b)'s, so the bytes are (b)'s (absent in runs before --image-bits). */
  ours: z
    .object({
      bits: z
        .number()
        .refine(
          (b) => (IMAGE_BITS as readonly number[]).includes(b),
          `bits per pixel: one of ${IMAGE_BITS.join(", ")}`,
        ),
      images: z.number().int().positive(),
      labels: z.array(z.number().int().min(0)),
      memory_images: z.number().int().positive(),
      epochs: z.number().int().positive(),
    })
    .optional(),
  seconds: z.number(),
});
export type StepResult = z.infer<typeof stepResultSchema>;

export interface ContinualSummary {
  dataset: string;
  classes: number;
  steps: number;
  ipc: number;
  seeds: number[];
  /** kept: each block's soft labels from its arrival step's teacher; current: relabelled by each step's teacher. */
  memoryLabels: "kept" | "current";
  command: string;
  /** results[o][s]: class order o (seeds[o]), step s. */
  results: StepResult[][];
}

const METHODS = [
  { key: "ours", name: "ours (distilled, soft labels)" },
  { key: "random_hard", name: "(a) random real, hard labels" },
  { key: "random_soft", name: "(b) random real, soft labels" },
] as const;

const cell = (xs: number[]) => `${percent(mean(xs))} ± ${percent(std(xs))}`;

/** Ours' memory of a step where it holds fewer bits per pixel than (b)'s ("40 at 4 bits"), else undefined. */
export function oursMemoryBelow8(r: StepResult): string | undefined {
  return r.ours && r.ours.bits < 8 ? `${r.ours.memory_images} at ${r.ours.bits} bits` : undefined;
}

/** The class orders' distinct {@link oursMemoryBelow8}, joined; undefined where every order's is 8-bit. */
function oursMemory(at: StepResult[]): string | undefined {
  const below = at.flatMap((r) => oursMemoryBelow8(r) ?? []);
  return below.length ? [...new Set(below)].join(" or ") : undefined;
}

/** Per step: mean and std (population, over class orders) of each method and of the teacher. */
export function summarise(s: ContinualSummary) {
  return s.results[0].map((_, i) => {
    const at = s.results.map((order) => order[i]);
    const col = (f: (r: StepResult) => number) => ({ mean: mean(at.map(f)), std: std(at.map(f)) });
    return {
      step: i + 1,
      classes_seen: at[0].seen.length,
      memory_images: at[0].memory_images,
      ours_memory: oursMemory(at),
      ours: col((r) => r.accuracy.ours),
      random_hard: col((r) => r.accuracy.random_hard),
      random_soft: col((r) => r.accuracy.random_soft),
      teacher: col((r) => r.teacher.accuracy),
      ours_minus_b: col((r) => r.accuracy.ours - r.accuracy.random_soft),
      ahead_of_b: at.filter((r) => r.accuracy.ours > r.accuracy.random_soft).length,
    };
  });
}

export function renderContinualMarkdown(s: ContinualSummary): string {
  const rows = summarise(s);
  const lines = [
    `# Class-incremental ${s.dataset}: ${s.steps} steps, IPC ${s.ipc}`,
    "",
    `Top-1 (%) on the real test images of the classes seen so far, mean ± std over ${s.seeds.length} class order(s) (seeds ${s.seeds.join(", ")}). ` +
      "Each step: a teacher trained on the seen classes only; a student from scratch on the whole memory" +
      (rows.some((r) => r.ours_memory)
        ? " (every method's in the same bytes: below 8 bits ours keeps 8 / bits images per class for each of (b)'s). "
        : ". ") +
      (s.memoryLabels === "kept"
        ? "Soft labels: each memory block keeps those of the teacher of the step it arrived in."
        : "Soft labels: every memory block relabelled by each step's teacher."),
    "",
    ...(s.results[0].length < s.steps
      ? [`**Partial**: steps 1–${s.results[0].length} of ${s.steps} (the steps finished in every class order).`, ""]
      : []),
    "| step | classes seen | memory images | ours | (a) random real, hard | (b) random real, soft | ours − (b) | teacher (seen classes) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const at = s.results.map((order) => order[r.step - 1]);
    const c = (k: "ours" | "random_hard" | "random_soft") => cell(at.map((x) => x.accuracy[k]));
    const gap = at.map((x) => x.accuracy.ours - x.accuracy.random_soft);
    lines.push(
      `| ${r.step} | ${r.classes_seen} | ${r.memory_images}${r.ours_memory ? `; ours ${r.ours_memory}` : ""} | ${c("ours")} | ${c("random_hard")} | ${c("random_soft")} | ` +
        `${mean(gap) > 0 ? "+" : ""}${cell(gap)} pt (ahead in ${r.ahead_of_b}/${at.length}) | ${cell(at.map((x) => x.teacher.accuracy))} |`,
    );
  }
  lines.push("", "Class orders:", "");
  s.results.forEach((order, o) => lines.push(`- seed ${s.seeds[o]}: ${order.at(-1)!.seen.join(", ")}`));
  lines.push("", `Command: \`${s.command}\``, "");
  return lines.join("\n");
}

export async function writeContinualReport(dir: string, s: ContinualSummary): Promise<void> {
  writeJsonAtomic(join(dir, "continual.json"), { ...s, summary: summarise(s) });
  writeFileAtomic(join(dir, "continual.md"), renderContinualMarkdown(s));
  const rows = summarise(s);
  await writeLineChartPng(join(dir, "continual.png"), {
    title: `${s.dataset}: class-incremental, ${s.steps} steps, IPC ${s.ipc} (${s.seeds.length} class orders)`,
    x: { label: "classes seen" },
    y: { label: "top-1 on seen classes (%)" },
    series: [
      ...METHODS.map((m) => ({
        name: m.name,
        points: rows.map((r) => ({ x: r.classes_seen, y: 100 * r[m.key].mean, err: 100 * r[m.key].std })),
      })),
      {
        name: "teacher (trained on the seen classes)",
        points: rows.map((r) => ({ x: r.classes_seen, y: 100 * r.teacher.mean, err: 100 * r.teacher.std })),
      },
    ],
  });
}
