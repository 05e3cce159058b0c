// --image-bits auto: fewer grey levels where they cost the teacher at most half a point on
// held-out images, 8 bits where they cost more; quantised datasets keep their pixel type.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Dataset } from "../../gpu-cluster/data/dataset.ts";
import type { TensorData } from "../../gpu-cluster/graph/types.ts";
import { chooseImageBits, IMAGE_BITS_TOLERANCE, quantisedDataset } from "../../gpu-cluster/stages/image-bits-choice.ts";
import { IMAGE_BITS, quantisePixels } from "../../shared/image-bits.ts";

/** n one-pixel images, uniform brightness in [0, 1), labelled by brightness ≥ threshold. */
function brightness(n: number, threshold: number): Dataset {
  const images = Float32Array.from({ length: n }, (_, i) => (i + 0.5) / n);
  const labels = Int32Array.from(images, (v) => (v >= threshold ? 1 : 0));
  return { images, labels, classes: ["dark", "bright"], channels: 1, height: 1, width: 1, name: "brightness" };
}

/** A classifier of one-pixel images by brightness ≥ threshold (the pixel arrives as it is: mean 0, std 1). */
const thresholdAt =
  (threshold: number) =>
  async (x: TensorData): Promise<Float32Array> =>
    Float32Array.from({ length: 2 * x.shape[0] }, (_, j) =>
      (x.data[j >> 1] as number) >= threshold === (j % 2 === 1) ? 1 : 0,
    );
const asIs = { mean: [0], std: [1] };

describe("--image-bits auto", () => {
  it("chooses 4 bits where 16 levels keep the teacher's answers, 8 where they cost more than the tolerance", async () => {
    // 0.5 lies halfway between the levels 7/15 and 8/15: quantising never crosses it
    const kept = await chooseImageBits(thresholdAt(0.5), brightness(3000, 0.5), asIs);
    expect(kept).toEqual({ bits: 4, accuracy: { 8: 1, 4: 1 }, images: 3000 });
    // 0.45 does: images in [13/30, 0.45) round up to 7/15 ≈ 0.467 and are misread (1.7 % of them)
    const lost = await chooseImageBits(thresholdAt(0.45), brightness(3000, 0.45), asIs);
    expect(lost.bits).toBe(8);
    expect(lost.accuracy[8]).toBe(1);
    expect(1 - lost.accuracy[4]!).toBeCloseTo(0.45 - 13 / 30, 3);
    expect(1 - lost.accuracy[4]!).toBeGreaterThan(IMAGE_BITS_TOLERANCE);
    // a looser tolerance accepts that loss
    expect((await chooseImageBits(thresholdAt(0.45), brightness(3000, 0.45), asIs, { tolerance: 0.02 })).bits).toBe(4);
    // depths ruled out beforehand are not tried
    expect(await chooseImageBits(thresholdAt(0.5), brightness(3000, 0.5), asIs, { depths: [] })).toEqual({
      bits: 8,
      accuracy: { 8: 1 },
      images: 3000,
    });
  });

  it("property: a quantised dataset keeps its pixel type and equals the quantised pixels, labels untouched", () => {
    fc.assert(
      fc.property(fc.constantFrom(...IMAGE_BITS), fc.uint8Array({ minLength: 1, maxLength: 50 }), (bits, raw) => {
        const d: Dataset = {
          images: raw,
          labels: new Int32Array(raw.length),
          classes: ["a"],
          channels: 1,
          height: 1,
          width: 1,
          name: "bytes",
        };
        const q = quantisedDataset(d, bits);
        expect(q.images).toBeInstanceOf(Uint8Array);
        const asFloat = quantisePixels(
          Float32Array.from(raw, (v) => v / 255),
          bits,
        );
        q.images.forEach((v, i) => expect(Math.abs(v / 255 - asFloat[i])).toBeLessThan(1e-6));
        expect(q.labels).toBe(d.labels);
        const f = quantisedDataset({ ...d, images: Float32Array.from(raw, (v) => v / 255) }, bits);
        expect(Array.from(f.images)).toEqual(Array.from(asFloat));
      }),
    );
  });
});
