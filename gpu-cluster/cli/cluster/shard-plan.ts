// How a run is cut into cluster shards. Recover shards are ranges of whole recover batches
// (recover-plan.ts), so each batch sees the same BN statistics as in one process; relabel shards
// are epoch ranges (the crop schedule is counter-based: epochs are independent). Ranges are as
// even as integers allow and never empty.
import { recoverPlan } from "../../stages/recover-plan.ts";

export interface Range {
  start: number;
  end: number;
}

/** A recover shard: its range of recover batches and the images they hold. */
export interface RecoverShard extends Range {
  images: number[];
}

/** n items in `parts` contiguous ranges whose sizes differ by at most one. */
export function splitEvenly(n: number, parts: number, what: string): Range[] {
  if (!(Number.isInteger(parts) && parts >= 1))
    throw new Error(`${what}: the number of shards must be an integer ≥ 1, got ${parts}`);
  if (parts > n)
    throw new Error(`${what}: ${parts} shards for ${n} units of work; use at most ${n} shards (each needs one unit)`);
  return Array.from({ length: parts }, (_, i) => ({
    start: Math.floor((i * n) / parts),
    end: Math.floor(((i + 1) * n) / parts),
  }));
}

/** Recover shards: ranges of the recover batches of `ipc` images per class, and the images they hold. */
export function recoverShardPlan(
  p: { classes: number; ipc: number; recoverBatch: number },
  recoverShards: number,
): RecoverShard[] {
  const batches = recoverPlan(p.classes, p.ipc, p.recoverBatch);
  return splitEvenly(batches.length, recoverShards, "recover (batches)").map((r) => ({
    ...r,
    images: batches.slice(r.start, r.end).flatMap((b) => b.images),
  }));
}

/** Relabel shards: ranges of the kept images' labelled epochs. */
export function relabelShardPlan(epochs: number, relabelShards: number): Range[] {
  return splitEvenly(epochs, relabelShards, "relabel (epochs)");
}

/** Both plans of a run whose kept set has `epochs` labelled epochs (bench/cluster.bench.ts sizes ImageNet runs with it). */
export function shardPlan(
  p: { classes: number; ipc: number; recoverBatch: number; epochs: number },
  recoverShards: number,
  relabelShards: number,
): { recover: RecoverShard[]; relabel: Range[] } {
  return { recover: recoverShardPlan(p, recoverShards), relabel: relabelShardPlan(p.epochs, relabelShards) };
}
