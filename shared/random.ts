// Counter-based randomness: every draw is a pure hash of (seed, counters), so any crop of any
// epoch of any image can be computed on its own, in any order, on any machine (Node, Workers,
// browsers) with identical results. 32-bit integer arithmetic only (Math.imul), no state.

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a seed and any number of non-negative integer counters. */
export function hash32(seed: number, ...counters: number[]): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  for (const c of counters) {
    // Mix the low and high 32 bits, so counters up to 2^53 stay distinct.
    h = fmix32(h ^ Math.imul((c >>> 0) ^ 0x7f4a7c15, 0x27d4eb2f));
    h = fmix32(h ^ Math.floor(c / 4294967296));
  }
  return h;
}

/** Uniform in [0, 1) from (seed, counters). */
export function uniform(seed: number, ...counters: number[]): number {
  return hash32(seed, ...counters) / 4294967296;
}

/** Standard normal from (seed, counters) (Box–Muller on two derived uniforms). */
export function normal(seed: number, ...counters: number[]): number {
  const u = 1 - uniform(seed, ...counters, 0);
  const v = uniform(seed, ...counters, 1);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) by Marsaglia–Tsang, with the shape < 1 boost; draws numbered from `counters`. */
export function gamma(shape: number, seed: number, ...counters: number[]): number {
  if (shape < 1) return gamma(shape + 1, seed, ...counters, 1) * Math.pow(uniform(seed, ...counters, 2), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (let t = 0; t < 1000; t++) {
    const x = normal(seed, ...counters, 3, t);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = uniform(seed, ...counters, 4, t);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
  return d; // not reached in practice (acceptance rate > 95 %); keeps the function total
}

/** Beta(a, b) from two Gamma draws. */
export function beta(a: number, b: number, seed: number, ...counters: number[]): number {
  const x = gamma(a, seed, ...counters, 10);
  const y = gamma(b, seed, ...counters, 11);
  return x + y > 0 ? x / (x + y) : 0.5;
}
