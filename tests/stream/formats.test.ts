// The stream trainer's two small binary formats: checkpoints (round trip, a checkpoint of
// another training refused naming the field, truncation and foreign files refused) and the
// held-out set shipped to the browser page (round trip of u8 and f32 datasets, bad input).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from "../../gpu-cluster/training/checkpoint.ts";
import { decodeHeldOut, encodeHeldOut } from "../../gpu-cluster/stream/heldout.ts";
import type { Dataset } from "../../gpu-cluster/data/dataset.ts";

const identity = {
  run: "r1",
  teacher: "t1",
  student: { arch: "convnet-3", lr: 0.003 },
  epochs: 4,
  crops: "local" as const,
};

describe("checkpoint", () => {
  it("round-trips any state exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 }),
        fc.nat(10_000),
        (tensors, step) => {
          const c: Checkpoint = {
            identity,
            step,
            epochLosses: [0.5, 0.25],
            epochSum: 0.125,
            state: tensors.map((t, i) => ({
              name: `w${i}`,
              value: { dtype: "float32", shape: [t.length], data: Float32Array.from(t) },
            })),
          };
          const back = decodeCheckpoint(encodeCheckpoint(c), identity);
          expect(back.step).toBe(step);
          expect(back.epochLosses).toEqual([0.5, 0.25]);
          expect(back.state.map((s) => s.name)).toEqual(c.state.map((s) => s.name));
          back.state.forEach((s, i) => expect(s.value.data).toEqual(c.state[i].value.data));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses another training's checkpoint, a truncated one and a foreign file, saying what to do", () => {
    const bytes = encodeCheckpoint({
      identity,
      step: 3,
      epochLosses: [],
      epochSum: 0,
      state: [{ name: "w", value: { dtype: "float32", shape: [2, 2], data: new Float32Array(4) } }],
    });
    expect(() => decodeCheckpoint(bytes, { ...identity, epochs: 5 })).toThrow(
      /another training \(epochs: 4 there, 5 now\): delete it, or pass the options it was made with/,
    );
    expect(() => decodeCheckpoint(bytes, { ...identity, crops: "pixels" })).toThrow(
      /crops: "local" there, "pixels" now/,
    );
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), identity)).toThrow(
      /header describes .*delete it/,
    );
    expect(() => decodeCheckpoint(new TextEncoder().encode("not a checkpoint"), identity)).toThrow(/no DCK1 magic/);
  });
});

describe("held-out set", () => {
  const dataset = (images: Uint8Array | Float32Array, n: number): Dataset => ({
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    classes: ["a", "b", "c"],
    channels: 1,
    height: 2,
    width: 3,
    name: "tiny/val",
  });

  it("round-trips u8 and f32 pixels, keeping the first `count` images and the normalisation", () => {
    for (const images of [
      Uint8Array.from({ length: 7 * 6 }, (_, i) => i * 5),
      Float32Array.from({ length: 7 * 6 }, (_, i) => i / 41),
    ]) {
      const d = dataset(images, 7);
      const stats = { mean: [0.25], std: [0.5] };
      const h = decodeHeldOut(encodeHeldOut(d, stats, 5).slice().buffer);
      expect(h.stats).toEqual(stats);
      expect(h.set.labels).toEqual(d.labels.subarray(0, 5));
      expect(h.set.images.constructor).toBe(images.constructor);
      expect(Array.from(h.set.images)).toEqual(Array.from(images.subarray(0, 30)));
      expect([h.set.channels, h.set.height, h.set.width, h.set.classes]).toEqual([1, 2, 3, ["a", "b", "c"]]);
      const all = decodeHeldOut(encodeHeldOut(d, stats, 1000).slice().buffer);
      expect(all.set.labels.length).toBe(7);
    }
  });

  it("refuses what is not a held-out message", () => {
    expect(() => decodeHeldOut(new TextEncoder().encode("<html>").buffer)).toThrow(/not a DHO1 message/);
    const ok = encodeHeldOut(dataset(new Uint8Array(6), 1), { mean: [0], std: [1] }, 1);
    expect(() => decodeHeldOut(ok.slice(0, ok.length - 1).buffer)).toThrow(/header describes/);
  });
});
