// Published label-table shards of a run. Each shard object carries its 64-byte table header
// (base64) and sha256 in R2 custom metadata, so one list call describes every shard without
// reading any table. Shards are immutable once published; isolates cache the listing and list
// again only when asked for an epoch they have not seen.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { decodeHeader, QUANT_F16, QUANT_U8, type LabelTableHeader } from "../../../shared/label-table/index.ts";
import type { RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { indexFromKey, keys } from "./keys.ts";

export interface ShardInfo {
  shard: number;
  key: string;
  bytes: number;
  sha256: string;
  /** R2 etag of the object listed: reads are made conditional on it, so a replaced shard is never mixed with this header. */
  etag: string;
  header: LabelTableHeader;
}

export const MAX_SHARD = 9999;

export function encodeBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** Problems with a table header against the run's manifest (empty when it belongs to the run). */
export function headerMismatches(h: LabelTableHeader, m: RunManifest): string[] {
  const want: [string, number | string, number | string][] = [
    ["run_id", h.runId, m.runId],
    ["classes", h.classes, m.dataset.classes],
    ["images", h.images, m.images],
    ["epochs", h.epochs, m.relabel.epochs],
    ["crops_per_image", h.cropsPerImage, m.relabel.cropsPerImage],
    ["k", h.k, m.relabel.k],
    ["quant", h.quant, m.relabel.quant === "u8" ? QUANT_U8 : QUANT_F16],
    ["seed", h.seed, m.relabel.schedule.seed],
  ];
  return want
    .filter(([, got, expected]) => got !== expected)
    .map(([f, got, expected]) => `${f} is ${got}, the manifest says ${expected}`);
}

const cache = new BoundedCache<string, ShardInfo[]>(256);

export async function listShards(bucket: R2Bucket, run: RunId): Promise<ShardInfo[]> {
  const prefix = keys.tablesPrefix(run);
  const out: ShardInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
    for (const o of page.objects) {
      const shard = indexFromKey(o.key, prefix, ".dlt");
      const meta = o.customMetadata ?? {};
      if (shard === null || !meta.header || !meta.sha256) continue;
      out.push({
        shard,
        key: o.key,
        bytes: o.size,
        sha256: meta.sha256,
        etag: o.etag,
        header: decodeHeader(decodeBase64(meta.header)),
      });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  out.sort((a, b) => a.header.epochStart - b.header.epochStart);
  cache.set(run, out);
  return out;
}

const holds = (s: ShardInfo, epoch: number) =>
  epoch >= s.header.epochStart && epoch < s.header.epochStart + s.header.epochCount;

/** The published shard holding `epoch`; 404 TABLE_NOT_FOUND when none does (yet). */
export async function shardForEpoch(bucket: R2Bucket, run: RunId, epoch: number): Promise<ShardInfo> {
  const found =
    cache.get(run)?.find((s) => holds(s, epoch)) ?? (await listShards(bucket, run)).find((s) => holds(s, epoch));
  if (!found)
    throw new ApiError(
      404,
      "TABLE_NOT_FOUND",
      `no label-table shard of run ${run} holds epoch ${epoch} yet: a worker uploads it with PUT /v1/runs/${run}/tables/<shard>`,
    );
  return found;
}

/** Forget the cached listing (after a publish in this isolate). */
export function invalidateShards(run: RunId): void {
  cache.delete(run);
}
