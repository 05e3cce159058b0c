// Seeded parameter initialisation (Kaiming-normal for convolutions as torchvision does,
// PyTorch's default uniform for linear layers), reproducible from a seed.
import { tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";

/** mulberry32: a small, fast, seedable PRNG with good statistical quality for init. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stable 32-bit hash of a string, to derive one stream per parameter name from a seed. */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export type Init =
  { kind: "zeros" } | { kind: "ones" } | { kind: "normal"; std: number } | { kind: "uniform"; bound: number };

export function initTensor(shape: number[], init: Init, seed: number): TensorData {
  const t = tensor("float32", shape);
  const d = t.data as Float32Array;
  const r = rng(seed);
  switch (init.kind) {
    case "zeros":
      break;
    case "ones":
      d.fill(1);
      break;
    case "normal":
      for (let i = 0; i < d.length; i++)
        d[i] = init.std * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
      break;
    case "uniform":
      for (let i = 0; i < d.length; i++) d[i] = (2 * r() - 1) * init.bound;
      break;
  }
  return t;
}

/** torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") for conv weights. */
export const kaimingConv = (cout: number, k: number[]): Init => ({
  kind: "normal",
  std: Math.sqrt(2 / (cout * k.reduce((a, b) => a * b, 1))),
});
/** PyTorch Linear default: U(−1/√fan_in, 1/√fan_in) for weight and bias. */
export const linearDefault = (fanIn: number): Init => ({ kind: "uniform", bound: 1 / Math.sqrt(fanIn) });
