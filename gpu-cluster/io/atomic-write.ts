// Writes that never leave half a file (or folder) behind: the bytes go to a temporary name beside
// the target, then a rename (atomic on one file system) puts them in place.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * `fill` writes the folder's files into a folder beside `dir`, which then replaces `dir`: a reader
 * sees the old folder or the whole new one (in the gap between the two renames, none), and a
 * failed rename puts the old one back.
 */
export function writeFolderAtomic(dir: string, fill: (tmp: string) => void): void {
  const beside = (what: string) => `${dir}.${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = beside("tmp");
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = existsSync(dir) ? beside("old") : undefined;
  if (old) renameSync(dir, old);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if (old) renameSync(old, dir);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}
