// Synthetic images of a run: PNG in R2, checked on upload (size and channels from the
// manifest), decoded at the edge to planar float pixels in [0, 1] for the crops, with a
// per-isolate cache of decoded images bounded by bytes.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { decode } from "fast-png";
import type { RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { keys } from "./keys.ts";

export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/** Decodes a PNG into planar C × H × W floats in [0, 1]; 422 IMAGE_INVALID unless it fits the run. */
export function decodeRunImage(png: Uint8Array, m: RunManifest, what: string): Float32Array {
  let img;
  try {
    img = decode(png);
  } catch (e) {
    throw new ApiError(422, "IMAGE_INVALID", `${what} is not a readable PNG (${e instanceof Error ? e.message : String(e)})`);
  }
  const S = m.relabel.schedule.sourceSize;
  const C = m.dataset.channels;
  if (img.width !== S || img.height !== S) throw new ApiError(422, "IMAGE_INVALID", `${what} is ${img.width}×${img.height}; the run's images are ${S}×${S} (relabel.schedule.sourceSize)`);
  if (img.palette || img.channels !== C) throw new ApiError(422, "IMAGE_INVALID", `${what} has ${img.palette ? "a palette" : `${img.channels} channels`}; the run's images have ${C} (dataset.channels): write gray or RGB PNGs without alpha`);
  const scale = 1 / (2 ** img.depth - 1);
  const plane = S * S;
  const out = new Float32Array(C * plane);
  const data = img.data;
  for (let p = 0; p < plane; p++) for (let c = 0; c < C; c++) out[c * plane + p] = data[p * C + c] * scale;
  return out;
}

const decoded = new BoundedCache<string, Float32Array>(48 * 1024 * 1024, (a) => a.byteLength);

/** Planar pixels of image `index`; 404 IMAGE_NOT_FOUND when it was not uploaded. */
export async function loadImage(bucket: R2Bucket, run: RunId, m: RunManifest, index: number): Promise<Float32Array> {
  const key = keys.image(run, index);
  const hit = decoded.get(key);
  if (hit) return hit;
  const obj = await bucket.get(key);
  if (!obj) throw new ApiError(404, "IMAGE_NOT_FOUND", `image ${index} of run ${run} was not uploaded: a worker uploads it with PUT /v1/runs/${run}/images/${index}`);
  const pixels = decodeRunImage(new Uint8Array(await obj.arrayBuffer()), m, `image ${index}`);
  decoded.set(key, pixels);
  return pixels;
}
