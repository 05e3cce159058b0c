// Synthetic images of a run: PNG in R2, checked on upload (size and channels from the
// manifest), decoded at the edge to planar pixels in [0, 1] for the crops, with a per-isolate
// cache of decoded images bounded by bytes.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { decode } from "fast-png";
import type { RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { keys } from "./keys.ts";

export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/** Planar C × H × W samples of a run image as stored (8- or 16-bit), and the scale to [0, 1]. */
export interface PlanarImage {
  samples: Uint8Array | Uint16Array;
  scale: number;
}

/** Decodes a PNG into planar samples; 422 IMAGE_INVALID unless it fits the run. */
export function decodeRunImage(png: Uint8Array, m: RunManifest, what: string): PlanarImage {
  let img;
  try {
    img = decode(png);
  } catch (e) {
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} is not a readable PNG (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const S = m.relabel.schedule.sourceSize;
  const C = m.dataset.channels;
  if (img.width !== S || img.height !== S)
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} is ${img.width}×${img.height}; the run's images are ${S}×${S} (relabel.schedule.sourceSize)`,
    );
  if (img.palette || img.channels !== C || (img.depth !== 8 && img.depth !== 16)) {
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} has ${img.palette ? "a palette" : `${img.channels} channels of ${img.depth} bits`}; the run's images have ${C} (dataset.channels) of 8 or 16 bits: write gray or RGB PNGs without alpha`,
    );
  }
  const plane = S * S;
  const samples = img.depth === 16 ? new Uint16Array(C * plane) : new Uint8Array(C * plane);
  const data = img.data;
  for (let p = 0; p < plane; p++) for (let c = 0; c < C; c++) samples[c * plane + p] = data[p * C + c];
  return { samples, scale: 1 / (2 ** img.depth - 1) };
}

export function toUnitFloats(img: PlanarImage): Float32Array {
  const out = new Float32Array(img.samples.length);
  for (let i = 0; i < out.length; i++) out[i] = img.samples[i] * img.scale;
  return out;
}

// Decoded images are kept as their 8/16-bit samples: 4× (2×) more of them fit than as floats.
const decoded = new BoundedCache<string, PlanarImage>(48 * 1024 * 1024, (a) => a.samples.byteLength);

/** Planar pixels in [0, 1] of image `index`; 404 IMAGE_NOT_FOUND when it was not uploaded. */
export async function loadImage(bucket: R2Bucket, run: RunId, m: RunManifest, index: number): Promise<Float32Array> {
  const key = keys.image(run, index);
  let img = decoded.get(key);
  if (!img) {
    const obj = await bucket.get(key);
    if (!obj)
      throw new ApiError(
        404,
        "IMAGE_NOT_FOUND",
        `image ${index} of run ${run} was not uploaded: a worker uploads it with PUT /v1/runs/${run}/images/${index}`,
      );
    img = decodeRunImage(new Uint8Array(await obj.arrayBuffer()), m, `image ${index}`);
    decoded.set(key, img);
  }
  return toUnitFloats(img);
}
