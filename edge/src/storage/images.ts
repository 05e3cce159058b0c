// Synthetic images of a run: PNG in R2, checked on upload (header against the manifest's size
// and channels before anything is inflated, then the inflated size, then a full decode),
// decoded at the edge to planar pixels in [0, 1] for the crops, with a per-isolate cache of
// decoded images bounded by bytes.
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import { decode } from "fast-png";
import type { RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import type { RunId } from "../params.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { checkInflatedSize, filteredBytes, readPngHeader } from "./png-check.ts";
import { keys } from "./keys.ts";

export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Most decoded bytes one image may need (a 4096² RGB image at 8 bits is 48 MiB). */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/** Planar C × H × W samples of a run image as stored (8- or 16-bit), and the scale to [0, 1]. */
export interface PlanarImage {
  samples: Uint8Array | Uint16Array;
  scale: number;
}

const COLOUR_TYPE_OF_CHANNELS: Record<number, number> = { 1: 0, 3: 2 };

/** The PNG's header checked against the run, before any pixel is inflated; 422 IMAGE_INVALID otherwise. */
function checkHeader(png: Uint8Array, m: RunManifest, what: string) {
  const h = readPngHeader(png, what);
  const S = m.relabel.schedule.sourceSize;
  const C = m.dataset.channels;
  if (h.width !== S || h.height !== S)
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} declares ${h.width}×${h.height} pixels; the run's images are ${S}×${S} (relabel.schedule.sourceSize)`,
    );
  if (h.colourType !== COLOUR_TYPE_OF_CHANNELS[C] || (h.depth !== 8 && h.depth !== 16)) {
    const kinds: Record<number, string> = { 0: "gray", 2: "RGB", 3: "palette", 4: "gray + alpha", 6: "RGBA" };
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} is ${kinds[h.colourType]} at ${h.depth} bits; the run's images have ${C} channel${C > 1 ? "s" : ""} (dataset.channels) of 8 or 16 bits: write ${C === 1 ? "gray" : "RGB"} PNGs without alpha or palette`,
    );
  }
  const decodedBytes = S * S * C * (h.depth / 8);
  if (decodedBytes > MAX_DECODED_BYTES)
    throw new ApiError(
      422,
      "IMAGE_INVALID",
      `${what} would decode to ${decodedBytes} bytes; the limit is ${MAX_DECODED_BYTES}: use smaller images`,
    );
  return h;
}

/** Everything an upload is checked for before it is decoded: header vs run, then the inflated size. */
export async function checkRunPng(png: Uint8Array, m: RunManifest, what: string): Promise<void> {
  const h = checkHeader(png, m, what);
  await checkInflatedSize(png, filteredBytes(h), what);
}

/** Decodes a PNG into planar samples; 422 IMAGE_INVALID unless it fits the run. */
export function decodeRunImage(png: Uint8Array, m: RunManifest, what: string): PlanarImage {
  checkHeader(png, m, what);
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
  if (img.width !== S || img.height !== S || img.palette || img.channels !== C || (img.depth !== 8 && img.depth !== 16))
    throw new ApiError(422, "IMAGE_INVALID", `${what} decodes to an image other than its header declares`);
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
