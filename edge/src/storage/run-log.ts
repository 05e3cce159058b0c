// The audit log of a run: who took which shard out of service, when and why. One small JSON
// object per entry under runs/<run>/log/ (names sort by time), read back by GET /v1/runs/:run/log.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import type { RunId } from "../params.ts";
import { keys } from "./keys.ts";

export interface LogEntry {
  at: string;
  action: "quarantine" | "delete";
  shard: number;
  sha256: string;
  bytes: number;
  /** The shard's table header (base64), so what it held stays known after it is gone. */
  header: string;
  reason: string;
  by: { sub?: string; jti: string };
  movedTo?: string;
}

export async function appendLog(bucket: R2Bucket, run: RunId, entry: LogEntry): Promise<void> {
  const key = keys.logEntry(run, Date.parse(entry.at), crypto.randomUUID().slice(0, 8));
  await bucket.put(key, JSON.stringify(entry), { httpMetadata: { contentType: "application/json" } });
}

/** Every entry, oldest first (at most `limit`). */
export async function readLog(bucket: R2Bucket, run: RunId, limit = 1000): Promise<LogEntry[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: keys.logPrefix(run), cursor });
    names.push(...page.objects.map((o) => o.key));
    cursor = page.truncated && names.length < limit ? page.cursor : undefined;
  } while (cursor);
  const entries = await Promise.all(
    names.slice(0, limit).map(async (k) => (await (await bucket.get(k))?.json()) as LogEntry),
  );
  return entries.filter(Boolean);
}
