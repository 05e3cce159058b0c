// The held-out set a browser trainer scores its student on: a few labelled real images and the
// input normalisation, in one binary message. Layout: "DHO1", u32 JSON length, the JSON (count,
// shape, class names, pixel type, normalisation), padding to 4 bytes, the pixels (u8 0..255 or
// f32 in [0, 1], N × C × H × W, as the dataset holds them: the page then computes exactly what
// the Node client computes), then i32 labels. Pure: `distill train --serve` encodes, the page decodes.
import type { Dataset } from "../data/dataset.ts";
import type { ChannelStats } from "../data/stats.ts";

const MAGIC = "DHO1";

export interface HeldOut {
  set: Dataset;
  stats: ChannelStats;
}

interface Meta {
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: string[];
  pixels: "u8" | "f32";
  stats: ChannelStats;
  name: string;
}

const pad4 = (n: number) => n + ((4 - (n % 4)) % 4);

/** The first `count` images of `d` (all when fewer). */
export function encodeHeldOut(d: Dataset, stats: ChannelStats, count: number): Uint8Array {
  const n = Math.min(count, d.labels.length);
  const per = d.channels * d.height * d.width;
  const u8 = d.images instanceof Uint8Array;
  const meta: Meta = {
    count: n,
    channels: d.channels,
    height: d.height,
    width: d.width,
    classes: d.classes,
    pixels: u8 ? "u8" : "f32",
    stats: { mean: [...stats.mean], std: [...stats.std] },
    name: d.name,
  };
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const head = pad4(8 + json.length);
  const pixelBytes = pad4(n * per * (u8 ? 1 : 4));
  const out = new Uint8Array(head + pixelBytes + 4 * n);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  const src = d.images.subarray(0, n * per);
  out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), head);
  new Int32Array(out.buffer, head + pixelBytes, n).set(d.labels.subarray(0, n));
  return out;
}

export function decodeHeldOut(bytes: ArrayBuffer): HeldOut {
  const all = new Uint8Array(bytes);
  if (all.length < 8 || new TextDecoder().decode(all.subarray(0, 4)) !== MAGIC)
    throw new Error("the held-out set is not a DHO1 message: is this a `distill train --serve` page?");
  const len = new DataView(bytes).getUint32(4, true);
  const meta = JSON.parse(new TextDecoder().decode(all.subarray(8, 8 + len))) as Meta;
  const head = pad4(8 + len);
  const count = meta.count * meta.channels * meta.height * meta.width;
  const pixelBytes = pad4(count * (meta.pixels === "u8" ? 1 : 4));
  if (all.length !== head + pixelBytes + 4 * meta.count)
    throw new Error(
      `the held-out set has ${all.length} bytes, its header describes ${head + pixelBytes + 4 * meta.count}`,
    );
  const images =
    meta.pixels === "u8" ? all.slice(head, head + count) : new Float32Array(bytes.slice(head, head + 4 * count));
  const labels = new Int32Array(bytes.slice(head + pixelBytes, head + pixelBytes + 4 * meta.count));
  return {
    set: {
      images,
      labels,
      classes: meta.classes,
      channels: meta.channels,
      height: meta.height,
      width: meta.width,
      name: meta.name,
    },
    stats: meta.stats,
  };
}
