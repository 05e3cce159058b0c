// Natural logarithm from + − × ÷ only: the same operations in the same order as
// wasm-tools/assembly/ln.ts, so the reference and the WASM module agree bit for bit (Math.log
// differs between engines in the last bit, which can move a crop across a histogram edge).
const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const C3 = 0.3333333333333333;
const C5 = 0.2;
const C7 = 0.14285714285714285;
const C9 = 0.1111111111111111;
const C11 = 0.09090909090909091;
const C13 = 0.07692307692307693;
const C15 = 0.06666666666666667;
const TWO54 = 18014398509481984.0;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer); // little-endian: u32[1] is the high word

/** Series form (atanh), used to build the table of the fast form. */
export function lnSeries(x: number): number {
  f64[0] = x;
  let e = ((u32[1] >>> 20) & 0x7ff) - 1023;
  if (e === -1023) {
    f64[0] = x * TWO54;
    e = ((u32[1] >>> 20) & 0x7ff) - 1023 - 54;
  }
  u32[1] = (u32[1] & 0xfffff) | 0x3ff00000;
  let m = f64[0];
  if (m > SQRT2) {
    m = m * 0.5;
    e = e + 1;
  }
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  const poly = s2 * (C3 + s2 * (C5 + s2 * (C7 + s2 * (C9 + s2 * (C11 + s2 * (C13 + s2 * C15))))));
  return e * LN2 + 2.0 * s * (1.0 + poly);
}

// Fast form: x = 2^e · m, m in [1, 2); c = 1 + i/256 from m's top 8 bits; ln x = e·ln 2 +
// ln c + log1p(m/c − 1), the last by 5 series terms (|t| < 2^-8: error < 1e-15).
const lnC = new Float64Array(256);
const invC = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = 1.0 + i / 256.0;
  lnC[i] = lnSeries(c);
  invC[i] = 1.0 / c;
}

/** ln x for positive finite x, relative error < 1e-12. */
export function ln(x: number): number {
  f64[0] = x;
  let e = ((u32[1] >>> 20) & 0x7ff) - 1023;
  if (e === -1023) {
    f64[0] = x * TWO54;
    e = ((u32[1] >>> 20) & 0x7ff) - 1023 - 54;
  }
  const i = (u32[1] >>> 12) & 0xff;
  u32[1] = (u32[1] & 0xfffff) | 0x3ff00000;
  const t = f64[0] * invC[i] - 1.0;
  return e * LN2 + lnC[i] + t * (1.0 + t * (-0.5 + t * (C3 + t * (-0.25 + t * C5))));
}
