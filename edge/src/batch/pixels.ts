// The crop pixels of a batch, made at the edge with the same pure function relabel and the
// student use (shared mixedCrop), so the pixels a client receives are the crops whose labels
// the table holds.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { mixedCrop, type MixSpec } from "../../../shared/crop-schedule/index.ts";
import type { RunManifest } from "../../../shared/manifest.ts";
import type { RunId } from "../params.ts";
import { loadImage } from "../storage/images.ts";

export async function batchPixels(
  bucket: R2Bucket,
  run: RunId,
  m: RunManifest,
  epoch: number,
  firstSlot: number,
  imagesOfSlots: Uint32Array,
  mixes: (MixSpec | null)[] | null,
): Promise<Float32Array[]> {
  const needed = new Set<number>(imagesOfSlots);
  for (const mix of mixes ?? []) if (mix) needed.add(mix.partnerImage);
  const list = [...needed];
  const loaded = await Promise.all(list.map((i) => loadImage(bucket, run, m, i)));
  const byIndex = new Map(list.map((i, j) => [i, loaded[j]]));
  const get = (i: number) => byIndex.get(i)!;
  return Array.from(imagesOfSlots, (_, s) =>
    mixedCrop(m.relabel.schedule, epoch, firstSlot + s, m.images, get, m.dataset.channels),
  );
}
