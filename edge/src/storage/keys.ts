// Where things live in the R2 bucket. Published objects sit under runs/<run>/; uploads in
// progress under uploads/, a prefix no read route lists, so a half-written shard is never seen.
import type { RunId } from "../params.ts";

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export const keys = {
  manifest: (run: RunId) => `runs/${run}/manifest.json`,
  image: (run: RunId, index: number) => `runs/${run}/images/${pad(index, 6)}.png`,
  imagesPrefix: (run: RunId) => `runs/${run}/images/`,
  table: (run: RunId, shard: number) => `runs/${run}/tables/${pad(shard, 4)}.dlt`,
  tablesPrefix: (run: RunId) => `runs/${run}/tables/`,
  /** A unique temporary key per upload attempt (the start time in its name tells a reader how old it is). */
  upload: (run: RunId, startedMs: number, uploadId: string) => `uploads/${run}/${startedMs}-${uploadId}`,
  uploadsPrefix: (run: RunId) => `uploads/${run}/`,
  /** A shard taken out of service by an admin, kept for inspection (never listed by read routes). */
  quarantine: (run: RunId, shard: number, atMs: number) => `quarantine/${run}/${pad(shard, 4)}-${atMs}.dlt`,
  /** The run's audit log: one JSON object per entry, in time order by name. */
  logEntry: (run: RunId, atMs: number, id: string) => `runs/${run}/log/${pad(atMs, 15)}-${id}.json`,
  logPrefix: (run: RunId) => `runs/${run}/log/`,
};

/** The image index or shard number back from a listed key (null for anything else). */
export function indexFromKey(key: string, prefix: string, ext: string): number | null {
  if (!key.startsWith(prefix) || !key.endsWith(ext)) return null;
  const digits = key.slice(prefix.length, key.length - ext.length);
  return /^[0-9]+$/.test(digits) ? Number(digits) : null;
}
