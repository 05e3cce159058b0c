// `distill inspect <table.dlt | run folder>`: statistics of a label table by the label-stats
// WebAssembly module (wasm-tools/), as a readable summary or `--json` (shape: InspectSummary in
// wasm-tools/src/summary.ts). `--serve` opens the inspector page on loopback over the run
// folder; `--html` writes the page into the run folder for any static server.
import { createReadStream, existsSync, statSync } from "node:fs";
import { readJsonExplained } from "../io/read-file.ts";
import { basename, dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { LabelTableError, type LabelTableErrorCode } from "../../shared/label-table/index.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { loadLabelStats } from "../../wasm-tools/node/load.ts";
import { renderSummary, summarize, type InspectSummary } from "../../wasm-tools/src/summary.ts";

export interface InspectTarget {
  /** The label table file. */
  table: string;
  /** The run folder (with manifest.json), when one was given. */
  runDir: string | null;
  manifest: RunManifest | null;
}

/** What to do about each table error, after its message. */
const FIX: Record<LabelTableErrorCode, string> = {
  BAD_MAGIC: "this is not a label table: pass a .dlt file written by `distill relabel` or its run folder",
  BAD_VERSION:
    "the table was written by another format version: re-run `distill relabel --force` or use a matching reader",
  BAD_FLAGS: "the header is damaged or from a newer writer: re-run `distill relabel --force`",
  BAD_HEADER: "the header is damaged: re-run `distill relabel --force` for this run",
  HEADER_CHECKSUM:
    "the header is damaged: re-run `distill relabel --force` (or copy the file again if it came over a network)",
  TRUNCATED: "the file is incomplete (interrupted copy or write): copy it again or re-run `distill relabel --force`",
  TRAILING_BYTES:
    "extra bytes follow the table (a bad concatenation or copy): copy it again or re-run `distill relabel --force`",
  RECORDS_CHECKSUM: "the epoch checksum table is damaged: re-run `distill relabel --force`",
  EPOCH_CHECKSUM: "some records are damaged: copy the file again or re-run `distill relabel --force`",
  BAD_RECORD:
    "a record breaks the format (the writer has a bug or the bytes were edited): re-run `distill relabel --force`",
  OUT_OF_RANGE: "the table does not fit its header: re-run `distill relabel --force`",
};

export class InspectError extends Error {
  constructor(
    message: string,
    readonly code?: LabelTableErrorCode,
  ) {
    super(message);
    this.name = "InspectError";
  }
}

/** A .dlt file, or a run folder holding labels.dlt and manifest.json. */
export function resolveTarget(path: string): InspectTarget {
  const p = resolve(path);
  if (!existsSync(p))
    throw new InspectError(
      `${path} does not exist: give a label table (.dlt) or a run folder holding labels.dlt (made by \`distill run --out DIR\`)`,
    );
  if (statSync(p).isDirectory()) {
    const table = join(p, "labels.dlt");
    if (!existsSync(table))
      throw new InspectError(
        `${path} holds no labels.dlt: run \`distill relabel --out ${path}\` (or \`distill run\`) first`,
      );
    return { table, runDir: p, manifest: readManifest(join(p, "manifest.json")) };
  }
  const beside = join(dirname(p), "manifest.json");
  return {
    table: p,
    runDir: null,
    manifest: basename(p) === "labels.dlt" && existsSync(beside) ? readManifest(beside) : null,
  };
}

function readManifest(file: string): RunManifest | null {
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = readJsonExplained(file, "the run's manifest", "re-run `distill relabel --force` to rewrite it");
  } catch (e) {
    throw new InspectError((e as Error).message);
  }
  try {
    return parseManifest(json);
  } catch (e) {
    throw new InspectError(`${file}: ${(e as Error).message}`);
  }
}

/** Streams the table through the WASM module (every SPEC check) and summarises it. */
export async function inspectTable(target: InspectTarget, o: { bins?: number } = {}): Promise<InspectSummary> {
  const wasm = loadLabelStats(); // built beforehand by `npm run build:wasm`
  const size = statSync(target.table).size;
  const m = target.manifest;
  try {
    const s = wasm.stream({ bins: o.bins, ipc: m?.ipc }, size);
    for await (const chunk of createReadStream(target.table, { highWaterMark: 1 << 22 })) s.push(chunk as Buffer);
    const stats = s.finish();
    const h = stats.header;
    if (m && (m.images !== h.images || m.dataset.classes !== h.classes)) {
      throw new InspectError(
        `manifest.json (${m.dataset.classes} classes, ${m.images} images) does not describe ${target.table} (${h.classes} classes, ${h.images} images): re-run \`distill relabel --force\` so both come from the same run`,
      );
    }
    const run = m
      ? { runId: m.runId, dataset: m.dataset.name, ipc: m.ipc, resolution: m.resolution, teacher: m.teacher.arch }
      : null;
    return summarize(stats, { bytes: size, run, classNames: m?.dataset.classNames });
  } catch (e) {
    if (e instanceof LabelTableError)
      throw new InspectError(`${target.table}: ${e.message}. Fix: ${FIX[e.code]}`, e.code);
    if (e instanceof RangeError) throw new InspectError(`${target.table}: ${e.message}`);
    throw e;
  }
}

interface InspectOptions {
  json?: boolean;
  bins?: string;
  serve?: boolean;
  port?: string;
  html?: boolean;
}

function intOption(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= lo && n <= hi))
    throw new InspectError(`--${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  return n;
}

/** Registers `inspect` on the distill program. */
export function addInspectCommand(program: Command): void {
  program
    .command("inspect")
    .description(
      "statistics of a label table (WASM): a .dlt file or a run folder; --serve/--html for the visual inspector",
    )
    .argument("<path>", "label table (.dlt) or run folder (labels.dlt + manifest.json + images/)")
    .option("--json", "print the summary as JSON (shape: InspectSummary in wasm-tools/src/summary.ts)")
    .option("--bins <n>", "histogram bins (default 20)")
    .option("--serve", "serve the inspector page over the run folder on 127.0.0.1 until interrupted")
    .option("--port <n>", "port for --serve (default 8737; 0 picks a free one)")
    .option(
      "--html",
      "write the inspector page into <run>/inspector/ (open it through any static server over the run folder)",
    )
    .action(async (path: string, o: InspectOptions) => {
      const target = resolveTarget(path);
      const bins = intOption("bins", o.bins, 1, 1000);
      const port = intOption("port", o.port, 0, 65535);
      const summary = await inspectTable(target, { bins });
      process.stdout.write(o.json ? JSON.stringify(summary, null, 2) + "\n" : renderSummary(summary, target.table));
      if (o.html || o.serve) {
        if (!target.runDir)
          throw new InspectError(
            `--html and --serve need a run folder (manifest.json, labels.dlt, images/), not a single table file`,
          );
        if (!target.manifest)
          throw new InspectError(
            `${target.runDir} has no manifest.json: the inspector needs it (classes, ipc, crop schedule)`,
          );
      }
      if (!o.html && !o.serve) return;
      const { writeInspectorPage, serveInspector } = await import("../../wasm-tools/node/inspector-server.ts");
      if (o.html) {
        const dir = await writeInspectorPage(target.runDir!);
        process.stderr.write(
          `inspector page written to ${dir}/index.html (serve the run folder, e.g. \`npx http-server ${target.runDir}\`, and open /inspector/)\n`,
        );
      }
      if (o.serve) {
        const server = await serveInspector(target.runDir!, { port: port ?? 8737 });
        process.stderr.write(`inspector: ${server.url} (Ctrl-C to stop)\n`);
        await new Promise<void>((done) => {
          process.once("SIGINT", () => server.close().then(done));
          process.once("SIGTERM", () => server.close().then(done));
        });
      }
    });
}
