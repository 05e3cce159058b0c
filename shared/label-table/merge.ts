// Joins table shards (SPEC.md: complete tables each holding an epoch range) into the one table
// that covers every epoch. Records and epoch CRCs are copied unchanged; only the header's
// epoch_start/epoch_count and records_crc are new, so the result is byte-identical to a table
// written in one piece with the same fields.
import { crc32 } from "../checksum.ts";
import { decodeLabelTable } from "./decoder.ts";
import { HEADER_BYTES, encodeHeader, type LabelTableHeader } from "./header.ts";
import { recordsStart } from "./layout.ts";
import { LabelTableError } from "./errors.ts";

/** Fields every shard of one table must share. */
const SAME: (keyof LabelTableHeader)[] = [
  "flags",
  "classes",
  "images",
  "epochs",
  "cropsPerImage",
  "k",
  "quant",
  "seed",
  "runId",
];

export function mergeLabelTableShards(shards: Uint8Array[]): Uint8Array {
  if (shards.length === 0) throw new LabelTableError("OUT_OF_RANGE", "no shards to merge");
  // full checks (CRCs, records) on every shard: a merged table is never built from a corrupt part
  const parts = shards.map((bytes) => ({ bytes, h: decodeLabelTable(bytes).header }));
  parts.sort((a, b) => a.h.epochStart - b.h.epochStart);
  const first = parts[0].h;
  let next = 0;
  for (const { h } of parts) {
    for (const f of SAME) {
      if (h[f] !== first[f])
        throw new LabelTableError("BAD_HEADER", `shards disagree on ${f}: ${String(first[f])} vs ${String(h[f])}`);
    }
    if (h.epochStart !== next)
      throw new LabelTableError(
        "OUT_OF_RANGE",
        h.epochStart > next
          ? `epochs ${next}..${h.epochStart - 1} are in no shard`
          : `epoch ${h.epochStart} is in two shards`,
      );
    next = h.epochStart + h.epochCount;
  }
  if (next !== first.epochs)
    throw new LabelTableError("OUT_OF_RANGE", `epochs ${next}..${first.epochs - 1} are in no shard`);
  const crcs = new Uint8Array(4 * first.epochs);
  const records: Uint8Array[] = [];
  let at = 0;
  for (const { bytes, h } of parts) {
    crcs.set(bytes.subarray(HEADER_BYTES, recordsStart(h)), at);
    at += 4 * h.epochCount;
    records.push(bytes.subarray(recordsStart(h)));
  }
  const header = encodeHeader({ ...first, epochStart: 0, epochCount: first.epochs }, crc32(crcs));
  const out = new Uint8Array(HEADER_BYTES + crcs.length + records.reduce((s, r) => s + r.length, 0));
  out.set(header, 0);
  out.set(crcs, HEADER_BYTES);
  let o = HEADER_BYTES + crcs.length;
  for (const r of records) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}
