// The rows of a results table, per IPC and student: each seed's top-1 for ours, (a) and (b). A table
// is made from the run folders' reports, and may take in rows an earlier table stored in its JSON
// (--merge), so that IPCs run in different sessions or on different machines land in one table
// with the command that produced each row. Merged rows must share the dataset, teacher and its
// accuracy: figures from another teacher would not compare.
import { z } from "zod";
import type { Report } from "../gpu-cluster/cli/report.ts";
import { pairedDifference } from "../gpu-cluster/cli/student-inits.ts";
import { readJsonExplained } from "../gpu-cluster/io/read-file.ts";

/** Where a row's figures come from: the table command that ran (or tabulated) its runs. */
const sourceSchema = z.object({ command: z.string(), machine: z.string(), date: z.string() });
export type RowSource = z.infer<typeof sourceSchema>;

// JSON writes a missing baseline (NaN: the run skipped it) as null
const figures = z.array(z.number().nullable());
const rowSchema = z
  .object({
    ipc: z.number().int().positive(),
    student: z.string(),
    // the students' width per seed; tables written before 2026-12-06 lack it
    student_width: z.array(z.number().int().positive().nullable()).optional(),
    seeds: z.array(z.number().int().nonnegative()).min(1),
    distilled: figures,
    random_hard: figures,
    random_soft: figures,
    // tables written before 2026-12-03 / 12-04 lack these two
    student_epochs: z.array(z.number().int().positive().nullable()).optional(),
    gate_kept: z.array(z.string().nullable()).optional(),
    // bits per pixel of ours' stored images (--image-bits); tables written before 2026-12-06 lack it: 8
    image_bits: z.array(z.number().int().positive()).optional(),
    /** --student-inits runs: the draws where ours led (b), over all the row's runs. */
    draws_ahead: z.object({ ahead: z.number().int(), draws: z.number().int() }).nullable().optional(),
    source: sourceSchema.optional(),
  })
  .superRefine((r, ctx) => {
    for (const k of [
      "distilled",
      "random_hard",
      "random_soft",
      "student_width",
      "student_epochs",
      "gate_kept",
      "image_bits",
    ] as const)
      if (r[k] && r[k].length !== r.seeds.length)
        ctx.addIssue({ code: "custom", message: `${k} has ${r[k].length} entries for ${r.seeds.length} seeds` });
  });
export type Row = Required<Omit<z.infer<typeof rowSchema>, "draws_ahead">> &
  Pick<z.infer<typeof rowSchema>, "draws_ahead">;

const tableSchema = z.object({
  command: z.string(),
  machine: z.string(),
  date: z.string(),
  // tables written before 2026-12-05 lack these two: only their teacher's accuracy is then checked
  dataset: z.string().optional(),
  teacher_arch: z.string().optional(),
  teacher_accuracy: z.number(),
  rows: z.array(rowSchema),
});

/** What every row of one table must share. */
export interface TableBasis {
  dataset?: string;
  teacher_arch?: string;
  teacher_accuracy: number;
}

/** One row per IPC and student from finished runs' reports, in the order of `ipcs`. */
export function rowsFromReports(reports: Report[], ipcs: number[], source: RowSource): Row[] {
  return ipcs.flatMap((ipc) => {
    const rs = reports.filter((r) => r.ipc === ipc);
    if (rs.length === 0) return [];
    return Object.keys(rs[0].students).map((arch): Row => {
      const paired = rs.flatMap((r) => {
        const d = r.students[arch].draws;
        return d?.random_soft ? [pairedDifference(d.distilled, d.random_soft)] : [];
      });
      return {
        ipc,
        student: arch,
        student_width: rs.map((r) => r.student_widths?.[arch] ?? null),
        seeds: rs.map((r) => r.seed),
        distilled: rs.map((r) => r.students[arch].distilled),
        random_hard: rs.map((r) => r.students[arch].random_hard ?? null),
        random_soft: rs.map((r) => r.students[arch].random_soft ?? null),
        student_epochs: rs.map((r) => r.student_epochs ?? null),
        gate_kept: rs.map((r) => r.gate?.kept ?? null),
        image_bits: rs.map((r) => r.image_bits ?? 8),
        draws_ahead: paired.length
          ? { ahead: paired.reduce((n, p) => n + p.ahead, 0), draws: paired.reduce((n, p) => n + p.draws, 0) }
          : null,
        source,
      };
    });
  });
}

/** The rows an earlier table stored in `file`, each with the command that produced it. */
export function readStoredRows(file: string): { basis: TableBasis; rows: Row[] } {
  const fix = "give a file written by scripts/results-table.ts";
  const parsed = tableSchema.safeParse(readJsonExplained(file, "--merge", fix));
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");
    throw new Error(`--merge ${file}: not a results table's JSON (${where}): ${fix}`);
  }
  const t = parsed.data;
  const source = { command: t.command, machine: t.machine, date: t.date.slice(0, 10) };
  return {
    basis: { dataset: t.dataset, teacher_arch: t.teacher_arch, teacher_accuracy: t.teacher_accuracy },
    rows: t.rows.map((r) => ({
      ...r,
      student_width: r.student_width ?? r.seeds.map(() => null),
      student_epochs: r.student_epochs ?? r.seeds.map(() => null),
      gate_kept: r.gate_kept ?? r.seeds.map(() => null),
      image_bits: r.image_bits ?? r.seeds.map(() => 8),
      source: r.source ?? source,
    })),
  };
}

/**
 * The table's rows, sorted by IPC, and what they share (the runs' basis, else the stored tables'):
 * refuses rows of another dataset or teacher, and an IPC and student that two sources both hold.
 */
export function mergeRows(
  own: { basis: TableBasis; rows: Row[] } | null,
  stored: { file: string; basis: TableBasis; rows: Row[] }[],
): { basis: Required<TableBasis>; rows: Row[] } {
  const all = own ? [{ file: "", ...own }, ...stored] : stored;
  if (all.length === 0) throw new Error("no rows to tabulate: no finished run and nothing to --merge");
  const pick = <K extends keyof TableBasis>(k: K) => all.find((s) => s.basis[k] !== undefined)?.basis[k];
  const dataset = pick("dataset");
  const teacherArch = pick("teacher_arch");
  if (dataset === undefined || teacherArch === undefined)
    throw new Error(
      "the merged tables predate the dataset and teacher fields (2026-12-05): tabulate at least one run with them",
    );
  const basis = { dataset, teacher_arch: teacherArch, teacher_accuracy: all[0].basis.teacher_accuracy };
  const rows = [...(own?.rows ?? [])];
  for (const s of stored) {
    for (const k of ["dataset", "teacher_arch", "teacher_accuracy"] as const)
      if (s.basis[k] !== undefined && s.basis[k] !== basis[k])
        throw new Error(
          `--merge ${s.file}: its ${k} is ${s.basis[k]}, this table's ${basis[k]}; merge only tables of the same dataset and teacher`,
        );
    for (const r of s.rows) {
      if (rows.some((q) => q.ipc === r.ipc && q.student === r.student))
        throw new Error(
          `--merge ${s.file}: IPC ${r.ipc} (${r.student}) is already in this table; drop that IPC from --ipc or from the merged files`,
        );
      rows.push(r);
    }
  }
  return { basis, rows: rows.sort((a, b) => a.ipc - b.ipc) };
}
