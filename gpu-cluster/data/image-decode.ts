// Decoding one PNG or JPEG file to planar float pixels in [0, 1] with a requested channel count.
// The format is recognised by its signature, not its extension.
import { convertIndexedToRgb, decode as decodePng, hasPngSignature } from "fast-png";
import jpeg from "jpeg-js";
import { DataError } from "./errors.ts";

export interface PlanarImage {
  /** C × H × W, values in [0, 1]. */
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Channel count a file naturally has (1 for grayscale, 3 for colour), ignoring alpha. */
export function naturalChannels(img: PlanarImage): number {
  return img.channels >= 3 ? 3 : 1;
}

/** Decodes `bytes` (PNG or JPEG) to planar floats; `channels` 1 or 3 (undefined keeps the file's). */
export function decodeImage(bytes: Uint8Array, file: string, channels?: number): PlanarImage {
  let interleaved: ArrayLike<number>;
  let srcChannels: number;
  let width: number;
  let height: number;
  let max: number;
  if (hasPngSignature(bytes)) {
    try {
      const png = decodePng(bytes, { checkCrc: true });
      width = png.width;
      height = png.height;
      if (png.palette) {
        interleaved = convertIndexedToRgb(png);
        srcChannels = png.transparency ? 4 : 3;
        max = 255;
      } else {
        interleaved = png.data;
        srcChannels = png.channels;
        max = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
      }
    } catch (e) {
      throw new DataError(
        "BAD_IMAGE",
        file,
        `PNG does not decode (${(e as Error).message}); the file is truncated or corrupt`,
      );
    }
    if (interleaved.length < width * height * srcChannels) {
      throw new DataError("TRUNCATED", file, `PNG holds fewer pixels than its ${width}×${height} header says`);
    }
  } else if (isJpeg(bytes)) {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
      width = img.width;
      height = img.height;
      interleaved = img.data;
      srcChannels = 3;
      max = 255;
    } catch (e) {
      throw new DataError(
        "BAD_IMAGE",
        file,
        `JPEG does not decode (${(e as Error).message}); the file is truncated or corrupt`,
      );
    }
    if (interleaved.length < width * height * 3) {
      throw new DataError("TRUNCATED", file, `JPEG holds fewer pixels than its ${width}×${height} header says`);
    }
  } else {
    throw new DataError("BAD_MAGIC", file, "neither a PNG nor a JPEG (signature not recognised)");
  }
  if (width === 0 || height === 0) throw new DataError("BAD_IMAGE", file, "image has zero width or height");
  const colour = srcChannels >= 3;
  const out = channels ?? (colour ? 3 : 1);
  if (out !== 1 && out !== 3) throw new DataError("BAD_OPTION", file, `channels must be 1 or 3, got ${out}`);
  const plane = width * height;
  const data = new Float32Array(out * plane);
  const inv = 1 / max;
  for (let p = 0; p < plane; p++) {
    const base = p * srcChannels;
    if (colour) {
      const r = interleaved[base] * inv,
        g = interleaved[base + 1] * inv,
        b = interleaved[base + 2] * inv;
      if (out === 3) {
        data[p] = r;
        data[plane + p] = g;
        data[2 * plane + p] = b;
      } else {
        data[p] = 0.299 * r + 0.587 * g + 0.114 * b; // ITU-R 601 luma, as PIL's "L" mode
      }
    } else {
      const v = interleaved[base] * inv;
      for (let c = 0; c < out; c++) data[c * plane + p] = v;
    }
  }
  return { data, channels: out, height, width };
}
