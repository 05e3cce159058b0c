// What a PNG claims, read before anything is inflated: the IHDR (size, colour type, bit depth,
// interlace) and the IDAT stream's inflated size, counted with a streaming inflater that stops
// at the size those pixels need. A decompression bomb (a small file declaring 20000² pixels, or
// an 8×8 image whose data inflates to gigabytes) is refused here in microseconds, before fast-png
// allocates anything.
import { crc32 } from "../../../shared/checksum.ts";
import { ApiError } from "../errors.ts";

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colourType: number;
  interlace: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const invalid = (what: string, why: string) => new ApiError(422, "IMAGE_INVALID", `${what} ${why}`);

export function readPngHeader(png: Uint8Array, what: string): PngHeader {
  if (png.length < 33 || SIGNATURE.some((b, i) => png[i] !== b))
    throw invalid(what, "is not a PNG (no PNG signature and IHDR chunk): upload PNG files");
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const type = String.fromCharCode(...png.subarray(12, 16));
  if (v.getUint32(8) !== 13 || type !== "IHDR") throw invalid(what, "is not a PNG (the first chunk is not IHDR)");
  if (v.getUint32(29) !== crc32(png.subarray(12, 29))) throw invalid(what, "has a corrupt IHDR chunk (CRC mismatch)");
  const h: PngHeader = {
    width: v.getUint32(16),
    height: v.getUint32(20),
    depth: png[24],
    colourType: png[25],
    interlace: png[28],
  };
  if (!(h.colourType in SAMPLES) || png[26] !== 0 || png[27] !== 0 || h.interlace > 1)
    throw invalid(what, "has an IHDR this decoder does not know (colour type, compression, filter or interlace)");
  return h;
}

/** Bytes of filtered scanlines (filter byte + samples per row) the image data must inflate to. */
export function filteredBytes(h: PngHeader): number {
  const bitsPerPixel = SAMPLES[h.colourType] * h.depth;
  const rows = (w: number, hh: number) => (w === 0 || hh === 0 ? 0 : hh * (1 + Math.ceil((w * bitsPerPixel) / 8)));
  if (h.interlace === 0) return rows(h.width, h.height);
  // Adam7: seven reduced images.
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  return passes.reduce(
    (sum, [x0, y0, dx, dy]) => sum + rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)),
    0,
  );
}

/** The concatenated IDAT payloads (chunk lengths checked against the file). */
function idatStream(png: Uint8Array, what: string): Uint8Array[] {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const parts: Uint8Array[] = [];
  let p = 8;
  while (p + 8 <= png.length) {
    const len = v.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    if (p + 12 + len > png.length) throw invalid(what, `is truncated (chunk ${type} runs past the end of the file)`);
    if (type === "IDAT") parts.push(png.subarray(p + 8, p + 8 + len));
    if (type === "IEND") break;
    p += 12 + len;
  }
  if (!parts.length) throw invalid(what, "has no image data (IDAT)");
  return parts;
}

/** Refuses image data that inflates to more than `limit` bytes, inflating at most limit + one chunk. */
export async function checkInflatedSize(png: Uint8Array, limit: number, what: string): Promise<void> {
  const parts = idatStream(png, what);
  const inflater = new DecompressionStream("deflate");
  const writer = inflater.writable.getWriter();
  const feeding = (async () => {
    for (const part of parts) await writer.write(part as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  feeding.catch(() => undefined);
  const reader = inflater.readable.getReader();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        writer.abort().catch(() => undefined);
        throw invalid(what, `has image data that inflates to more than the ${limit} bytes its header's pixels need`);
      }
    }
    await feeding;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw invalid(what, "has image data that is not a valid zlib stream");
  }
}
