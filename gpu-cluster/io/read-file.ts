// Reading a file a person named: a failure says who named it (a flag, a variable, the run folder),
// the file, why (ENOENT, EISDIR, not JSON, …) and what to give instead, never a bare stack trace.
// A run's own cache files are read silently instead: a missing or damaged one is remade.
import { existsSync, readFileSync } from "node:fs";

/** The bytes of `file`, named by `source`; when unreadable, an error ending with `fix`. */
export function readFileExplained(file: string, source: string, fix: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(
      `${source} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${fix}`,
    );
  }
}

/** The parsed JSON of `file`, named by `source`; unreadable or not JSON, an error ending with `fix`. */
export function readJsonExplained(file: string, source: string, fix: string): unknown {
  const text = readFileExplained(file, source, fix).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${source} ${file}: not JSON (${(e as Error).message}): ${fix}`);
  }
}

/** A cache file's JSON, or undefined where it is missing or not JSON (a cache that is then remade, silently). */
export function readJsonIfValid<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}
