// Images at fewer bits per pixel (`distill run --image-bits`): the levels, and the packed file
// the run stores (images.dpk) read back exactly, at its promised size, for any shape and depth.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IMAGE_BITS, packImages, packedHeader, quantisePixels, unpackImages } from "../../shared/image-bits.ts";

const shapes = fc.tuple(
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 7 }),
  fc.integer({ min: 1, max: 7 }),
);

describe("image bits", () => {
  it("property: quantised pixels take 2^b levels k / (2^b − 1), each within half a level of the pixel", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...IMAGE_BITS),
        fc.float32Array({ minLength: 1, maxLength: 64, noNaN: true }),
        (bits, raw) => {
          const top = 2 ** bits - 1;
          const q = quantisePixels(raw, bits);
          raw.forEach((v, i) => {
            const level = q[i] * top;
            expect(Math.abs(level - Math.round(level))).toBeLessThan(1e-4);
            const clamped = Math.min(1, Math.max(0, v));
            expect(Math.abs(q[i] - clamped)).toBeLessThanOrEqual(0.5 / top + 1e-6);
          });
        },
      ),
    );
  });

  it("property: a packed file decodes to the quantised pixels, its shape and bits, in header + ⌈n·b/8⌉ bytes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...IMAGE_BITS), shapes, fc.integer(), (bits, shape, seed) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const pixels = Float32Array.from(
          { length: n },
          (_, i) => ((Math.imul(seed ^ i, 2654435761) >>> 0) % 1000) / 999,
        );
        const packed = packImages(pixels, shape, bits);
        expect(packed.length).toBe(21 + Math.ceil((n * bits) / 8));
        const back = unpackImages(packed);
        expect(packedHeader(packed)).toEqual({ shape, bits }); // the header alone says as much
        expect(back.bits).toBe(bits);
        expect(back.shape).toEqual(shape);
        expect(Array.from(back.pixels)).toEqual(Array.from(quantisePixels(pixels, bits)));
        // packing what was decoded gives the same bytes
        expect(packImages(back.pixels, shape, bits)).toEqual(packed);
      }),
    );
  });

  it("two 4-bit images take the bytes of one 8-bit image", () => {
    const one = packImages(new Float32Array(28 * 28), [1, 1, 28, 28], 8);
    const two = packImages(new Float32Array(2 * 28 * 28), [2, 1, 28, 28], 4);
    expect(two.length).toBe(one.length);
  });

  it("refuses a file that is not one, truncated or of an unknown depth, and a shape that does not fit", () => {
    const packed = packImages(new Float32Array(8).fill(0.5), [2, 1, 2, 2], 4);
    expect(() => unpackImages(new Uint8Array([1, 2, 3]))).toThrow(/not a packed image file .*--image-bits/);
    expect(() => unpackImages(packed.subarray(0, packed.length - 1))).toThrow(/needs 25 bytes, the file has 24/);
    expect(() => packedHeader(packed.subarray(0, packed.length - 1))).toThrow(/needs 25 bytes, the file has 24/);
    const odd = packed.slice();
    odd[4] = 3;
    expect(() => unpackImages(odd)).toThrow(/3 bits per pixel; expected 1, 2, 4 or 8/);
    expect(() => packImages(new Float32Array(7), [2, 1, 2, 2], 4)).toThrow(/7 pixels for shape \[2, 1, 2, 2\]/);
    expect(() => packImages(new Float32Array(8), [8], 4)).toThrow(/N × C × H × W/);
  });
});
