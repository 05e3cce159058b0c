// The run folder and its stage bookkeeping. Each stage records, in `stages.json`, a key made
// of its own config and the content hashes of its inputs, plus the hashes of the outputs it
// wrote. A rerun skips the stage when the key is the same and every output is still there
// unchanged; `--force` redoes it. Since a stage's outputs are the next stage's inputs, a change
// anywhere upstream invalidates everything downstream, and nothing else.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { writeJsonAtomic } from "../io/atomic-write.ts";

export interface StageSpec {
  name: string;
  /** Everything that decides the stage's result (hyperparameters, seed, EP-independent). */
  config: unknown;
  /** Files or folders read (paths relative to the run folder, or absolute). */
  inputs: string[];
  /** Files or folders written (relative to the run folder). */
  outputs: string[];
  force?: boolean;
}

interface FileHash {
  sha256: string;
  size: number;
  mtimeMs: number;
}

interface StageRecord {
  key: string;
  config: unknown;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  seconds: number;
  finished: string;
}

interface StagesFile {
  stages: Record<string, StageRecord>;
  /** Content hashes by absolute path, reused while size and mtime are unchanged. */
  hashCache: Record<string, FileHash>;
}

export type StageOutcome = "ran" | "skipped";

/** JSON with object keys sorted, so that equal configs hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

async function hashFileContent(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export class RunFolder {
  private readonly stagesFile: string;
  private state: StagesFile;

  readonly dir: string;
  /** The outermost folder this RunFolder made (undefined: the folder was there before). */
  private readonly made: string | undefined;

  constructor(dir: string) {
    this.dir = resolve(dir);
    try {
      this.made = mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "EEXIST" ? "a file is there" : code === "ENOTDIR" ? "a file is on its path" : String(e);
      throw new Error(`${this.dir}: cannot make the run folder (${why}): give --out a folder that can be created`);
    }
    this.stagesFile = join(this.dir, "stages.json");
    this.state = existsSync(this.stagesFile)
      ? (JSON.parse(readFileSync(this.stagesFile, "utf8")) as StagesFile)
      : { stages: {}, hashCache: {} };
  }

  /** `work`; should it fail before writing anything (a refusal), the folders this RunFolder made go again. */
  async runOrDiscardEmpty<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      this.discardIfEmpty();
      throw e;
    }
  }

  private discardIfEmpty(): void {
    if (!this.made) return; // the folder was there before: never touched
    for (let d = this.dir; readdirSync(d).length === 0; d = dirname(d)) {
      rmdirSync(d);
      if (d === this.made) return;
    }
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  private abs(p: string): string {
    return isAbsolute(p) ? p : join(this.dir, p);
  }

  /** Content hash of a file, or of a folder (names and hashes of everything under it). */
  async hash(p: string): Promise<string> {
    const file = this.abs(p);
    const st = statSync(file);
    if (st.isDirectory()) {
      const parts: string[] = [];
      for (const name of readdirSync(file).sort()) {
        if (name.includes(".tmp-")) continue;
        parts.push(`${name}:${await this.hash(join(file, name))}`);
      }
      return sha256(parts.join("\n"));
    }
    const cached = this.state.hashCache[file];
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached.sha256;
    const h = await hashFileContent(file);
    this.state.hashCache[file] = { sha256: h, size: st.size, mtimeMs: st.mtimeMs };
    return h;
  }

  private async stageKey(spec: StageSpec): Promise<{ key: string; inputs: Record<string, string> }> {
    const inputs: Record<string, string> = {};
    for (const p of spec.inputs) {
      if (!existsSync(this.abs(p)))
        throw new Error(
          `stage '${spec.name}' needs ${this.abs(p)}, which does not exist: run the stage that makes it first (\`distill run\` runs every stage in order)`,
        );
      inputs[p] = await this.hash(p);
    }
    return { key: sha256(canonicalJson({ stage: spec.name, config: spec.config, inputs })), inputs };
  }

  /** The config a stage's recorded result was made with (fresh or not); undefined if none. */
  recordedConfig(name: string): unknown {
    return this.state.stages[name]?.config;
  }

  /** Whether the stage's recorded result is still valid for this config and these inputs. */
  async isFresh(spec: StageSpec): Promise<boolean> {
    const rec = this.state.stages[spec.name];
    if (!rec) return false;
    const { key } = await this.stageKey(spec);
    if (rec.key !== key) return false;
    for (const o of spec.outputs) {
      if (!existsSync(this.abs(o)) || rec.outputs[o] === undefined) return false;
      if ((await this.hash(o)) !== rec.outputs[o]) return false;
    }
    return true;
  }

  /** Runs `body` unless the stage is fresh (and not forced); records the result on success. */
  async stage(spec: StageSpec, body: () => Promise<void>): Promise<StageOutcome> {
    if (!spec.force && (await this.isFresh(spec))) return "skipped";
    const { key, inputs } = await this.stageKey(spec);
    delete this.state.stages[spec.name];
    this.save();
    const t0 = performance.now();
    await body();
    const outputs: Record<string, string> = {};
    for (const o of spec.outputs) {
      if (!existsSync(this.abs(o))) throw new Error(`stage '${spec.name}' finished without writing ${o}`);
      outputs[o] = await this.hash(o);
    }
    this.state.stages[spec.name] = {
      key,
      config: spec.config,
      inputs,
      outputs,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
      finished: new Date().toISOString(),
    };
    this.save();
    return "ran";
  }

  /** Recorded wall time of a stage's last run, if any. */
  stageSeconds(name: string): number | undefined {
    return this.state.stages[name]?.seconds;
  }

  private save(): void {
    // Keep the hash cache to files still inside or used by this run.
    writeJsonAtomic(this.stagesFile, this.state);
  }

  relative(p: string): string {
    return relative(this.dir, this.abs(p));
  }
}

/** A cheap identity for a dataset folder: relative names, sizes and mtimes of all its files. */
export function fingerprintFolder(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else parts.push(`${relative(dir, p)}:${st.size}:${Math.floor(st.mtimeMs)}`);
    }
  };
  walk(dir);
  return sha256(parts.join("\n"));
}
