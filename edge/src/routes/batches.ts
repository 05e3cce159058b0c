// GET /v1/runs/:run/batches/:epoch/:batch?size=N[&pixels=1] (trainer scoped to the run): the
// crops of one training batch with their soft labels, as one binary message
// (shared/batch-format.ts). The labels come from ONE R2 range read whose offset and length
// are computed from the table layout (shared batchRange); the crop boxes from the crop
// schedule; with pixels=1 the crops themselves, cut and resized here from the stored PNGs.
import { Hono } from "hono";
import { BATCH_CONTENT_TYPE } from "../../../shared/batch-format.ts";
import { batchOrder, cropFor, mixFor, type CropBox, type MixSpec } from "../../../shared/crop-schedule/index.ts";
import { batchRange, decodeRecords, hasBox, LabelTableError } from "../../../shared/label-table/index.ts";
import { requireRole, requireRun } from "../auth/middleware.ts";
import { encodeBatch } from "../batch/encode.ts";
import { batchPixels } from "../batch/pixels.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { parseFlag, parseIntParam, parseRunId } from "../params.ts";
import { BoundedCache } from "../storage/bounded-cache.ts";
import { loadManifest } from "../storage/runs.ts";
import { invalidateShards, shardForEpoch } from "../storage/shards.ts";

export const MAX_BATCH = 4096;
/** Largest pixel section one response may carry. */
export const MAX_PIXEL_BYTES = 64 * 1024 * 1024;

const orders = new BoundedCache<string, Uint32Array>(8);

function orderFor(seed: number, epoch: number, images: number): Uint32Array {
  const key = `${seed}/${epoch}/${images}`;
  let order = orders.get(key);
  if (!order) orders.set(key, (order = batchOrder(seed, epoch, images)));
  return order;
}

export const batchRoutes = new Hono<AppEnv>().get("/:run/batches/:epoch/:batch", async (c) => {
  const claims = requireRole(c, "trainer");
  const run = parseRunId(c.req.param("run"));
  requireRun(claims, run);
  const m = await loadManifest(c.env.BUCKET, run);
  const epoch = parseIntParam("epoch", c.req.param("epoch"), 0, m.relabel.epochs - 1);
  const size = parseIntParam("size", c.req.query("size"), 1, Math.min(MAX_BATCH, m.images));
  const batches = Math.ceil(m.images / size);
  const batch = parseIntParam("batch", c.req.param("batch"), 0, batches - 1);
  const withPixels = parseFlag("pixels", c.req.query("pixels"));
  const cpi = m.relabel.cropsPerImage;
  const schedule = m.relabel.schedule;
  const C = m.dataset.channels,
    S = schedule.outputSize;
  if (withPixels && cpi !== 1)
    throw new ApiError(
      400,
      "BAD_PARAM",
      `pixels=1 needs one crop per image; run ${run} has ${cpi}: fetch labels only and crop on the client`,
    );
  if (withPixels && size * C * S * S * 4 > MAX_PIXEL_BYTES) {
    throw new ApiError(
      400,
      "BAD_PARAM",
      `size ${size} with pixels would send ${size * C * S * S * 4} bytes of pixels; the limit is ${MAX_PIXEL_BYTES}: ask for a smaller batch`,
    );
  }

  const firstSlot = batch * size;
  const slots = Math.min(size, m.images - firstSlot);
  const n = slots * cpi;
  // The read is conditional on the listed object's etag: a shard quarantined (and perhaps
  // replaced) since this isolate listed it is never read with the old header; list again once.
  let shard = await shardForEpoch(c.env.BUCKET, run, epoch);
  let range = batchRange(shard.header, epoch, firstSlot, slots);
  let obj = await c.env.BUCKET.get(shard.key, { range, onlyIf: { etagMatches: shard.etag } });
  if (!obj || !("body" in obj)) {
    invalidateShards(run);
    shard = await shardForEpoch(c.env.BUCKET, run, epoch);
    range = batchRange(shard.header, epoch, firstSlot, slots);
    obj = await c.env.BUCKET.get(shard.key, { range, onlyIf: { etagMatches: shard.etag } });
    if (!obj || !("body" in obj))
      throw new ApiError(503, "UNAVAILABLE", `shard ${shard.shard} of run ${run} is being replaced: try again`);
  }
  const bytes = new Uint8Array(await obj.arrayBuffer());
  let records;
  try {
    if (bytes.length !== range.length)
      throw new LabelTableError("TRUNCATED", `range read returned ${bytes.length} of ${range.length} bytes`);
    records = decodeRecords(shard.header, bytes, n, firstSlot * cpi);
  } catch (e) {
    if (e instanceof LabelTableError)
      throw new ApiError(500, "TABLE_CORRUPT", `shard ${shard.shard} of run ${run}, epoch ${epoch}: ${e.message}`);
    throw e;
  }

  const order = orderFor(schedule.seed, epoch, m.images);
  const slotImages = order.subarray(firstSlot, firstSlot + slots);
  const images = new Uint32Array(n);
  const boxes: CropBox[] = new Array(n);
  const mixing = schedule.mix.kind !== "none";
  const mixes: (MixSpec | null)[] | null = mixing ? new Array(n) : null;
  for (let s = 0; s < slots; s++) {
    const mix = mixing ? mixFor(schedule, epoch, firstSlot + s, m.images) : null;
    for (let k = 0; k < cpi; k++) {
      const i = s * cpi + k;
      images[i] = slotImages[s];
      boxes[i] = cropFor(schedule, epoch, slotImages[s], k);
      if (mixes) mixes[i] = mix;
    }
  }
  if (hasBox(shard.header) && records.boxes) {
    const bad = records.boxes.findIndex(
      (b, i) =>
        b.x !== boxes[i].x ||
        b.y !== boxes[i].y ||
        b.w !== boxes[i].w ||
        b.h !== boxes[i].h ||
        b.flip !== boxes[i].flip,
    );
    if (bad >= 0)
      throw new ApiError(
        500,
        "TABLE_CORRUPT",
        `shard ${shard.shard}: the crop box stored for epoch ${epoch}, slot ${firstSlot + Math.floor(bad / cpi)} is not the crop schedule's: the table was written with another schedule`,
      );
  }
  const pixels = withPixels ? await batchPixels(c.env.BUCKET, run, m, epoch, firstSlot, slotImages, mixes) : null;
  const message = encodeBatch({
    header: {
      epoch,
      batch,
      size,
      firstSlot,
      slots,
      cropsPerImage: cpi,
      k: m.relabel.k,
      classes: m.dataset.classes,
      images: m.images,
      channels: withPixels ? C : 0,
      cropSize: withPixels ? S : 0,
    },
    images,
    boxes,
    ids: records.ids,
    probs: records.probs,
    mixes,
    pixels,
  });
  return c.body(message, 200, {
    "content-type": BATCH_CONTENT_TYPE,
    "cache-control": "private, max-age=3600, immutable",
  });
});
