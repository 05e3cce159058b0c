// Distilled images at fewer bits per pixel (`distill run --image-bits b`): 8 / b images in the
// bytes of one 8-bit image, at full resolution (docs/ablations.md, "Bit-depth formation": two
// 4-bit images per class beat (b)'s one 8-bit image on Fashion-MNIST IPC 1). The levels are
// fixed, k / (2^b − 1), so the stored file needs no side information: a header and the
// pixels packed 8 / b to a byte. Pure, so that the edge and the inspector read what a run stores.

export const IMAGE_BITS = [1, 2, 4, 8] as const;
export type ImageBits = (typeof IMAGE_BITS)[number];

/** Images of b bits that fit in the bytes of one 8-bit image. */
export function imagesPerByteImage(bits: ImageBits): number {
  return 8 / bits;
}

/** Pixels in [0, 1] to the nearest of the 2^b levels k / (2^b − 1) (out-of-range values clamped). */
export function quantisePixels(pixels: Float32Array, bits: ImageBits): Float32Array {
  const top = 2 ** bits - 1;
  return Float32Array.from(pixels, (v) => Math.round(Math.min(1, Math.max(0, v)) * top) / top);
}

/** 8-bit pixels (0..255) to the nearest of the 2^bits levels, as 8-bit values (k · 255 / (2^b − 1), rounded). */
export function quantiseBytes(bytes: Uint8Array, bits: number): Uint8Array {
  const top = 2 ** bits - 1;
  return Uint8Array.from(bytes, (v) => Math.round((Math.round((v * top) / 255) * 255) / top));
}

const MAGIC = [0x44, 0x50, 0x4b, 0x31]; // "DPK1"
const HEADER_BYTES = 4 + 1 + 4 * 4;

/** N × C × H × W images at `bits` bits: "DPK1", bits (u8), N, C, H, W (u32 LE), then the levels, first pixel in the high bits. */
export function packImages(pixels: Float32Array, shape: readonly number[], bits: ImageBits): Uint8Array {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1))
    throw new Error(`packImages: shape must be N × C × H × W of positive integers, got [${shape.join(", ")}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (pixels.length !== count)
    throw new Error(`packImages: ${pixels.length} pixels for shape [${shape.join(", ")}] (${count})`);
  const top = 2 ** bits - 1;
  const perByte = 8 / bits;
  const out = new Uint8Array(HEADER_BYTES + Math.ceil(count / perByte));
  out.set(MAGIC);
  out[4] = bits;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(5 + 4 * i, d, true));
  for (let i = 0; i < count; i++) {
    const level = Math.round(Math.min(1, Math.max(0, pixels[i])) * top);
    out[HEADER_BYTES + Math.floor(i / perByte)] |= level << (8 - bits * (1 + (i % perByte)));
  }
  return out;
}

/** A packed file's shape and depth, read from its header (and checked against its length) without decoding it. */
export function packedHeader(bytes: Uint8Array): { shape: number[]; bits: ImageBits } {
  if (bytes.length < HEADER_BYTES || MAGIC.some((m, i) => bytes[i] !== m))
    throw new Error("not a packed image file (no DPK1 header): write one with `distill run --image-bits`");
  const bits = bytes[4] as ImageBits;
  if (!IMAGE_BITS.includes(bits)) throw new Error(`packed images: ${bytes[4]} bits per pixel; expected 1, 2, 4 or 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = [0, 1, 2, 3].map((i) => view.getUint32(5 + 4 * i, true));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = HEADER_BYTES + Math.ceil(count / (8 / bits));
  if (count === 0 || bytes.length !== need)
    throw new Error(
      `packed images: shape [${shape.join(", ")}] at ${bits} bits needs ${need} bytes, the file has ${bytes.length} (truncated or not one file)`,
    );
  return { shape, bits };
}

/** The images of a packed file (packImages), as pixels in [0, 1]; a clear error for anything else. */
export function unpackImages(bytes: Uint8Array): { pixels: Float32Array; shape: number[]; bits: ImageBits } {
  const { shape, bits } = packedHeader(bytes);
  const count = shape.reduce((a, b) => a * b, 1);
  const perByte = 8 / bits;
  const top = 2 ** bits - 1;
  const pixels = new Float32Array(count);
  for (let i = 0; i < count; i++)
    pixels[i] = ((bytes[HEADER_BYTES + Math.floor(i / perByte)] >> (8 - bits * (1 + (i % perByte)))) & top) / top;
  return { pixels, shape, bits };
}
