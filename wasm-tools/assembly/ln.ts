// Natural logarithm from + − × ÷ only, so that this module and the TypeScript reference
// (wasm-tools/src/ln.ts: the same operations in the same order) agree bit for bit: JS
// Math.log and AssemblyScript's Math.log may differ in the last bit, which would move a
// crop across a histogram bin edge. Relative error < 1e-12 for positive finite x.
const LN2: f64 = 0.6931471805599453;
const SQRT2: f64 = 1.4142135623730951;
const C3: f64 = 0.3333333333333333;
const C5: f64 = 0.2;
const C7: f64 = 0.14285714285714285;
const C9: f64 = 0.1111111111111111;
const C11: f64 = 0.09090909090909091;
const C13: f64 = 0.07692307692307693;
const C15: f64 = 0.06666666666666667;
const TWO54: f64 = 18014398509481984.0;

/** Series form (atanh), used to build the table of the fast form. */
export function lnSeries(x: f64): f64 {
  let bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  if (e == -1023) {
    // subnormal: scale into the normal range first
    bits = reinterpret<u64>(x * TWO54);
    e = <i32>((bits >> 52) & 0x7ff) - 1023 - 54;
  }
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > SQRT2) {
    m = m * 0.5;
    e = e + 1;
  }
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  const poly = s2 * (C3 + s2 * (C5 + s2 * (C7 + s2 * (C9 + s2 * (C11 + s2 * (C13 + s2 * C15))))));
  return <f64>e * LN2 + (2.0 * s) * (1.0 + poly);
}

// Fast form: x = 2^e · m, m in [1, 2); c = 1 + i/256 from m's top 8 bits; ln x = e·ln 2 +
// ln c + log1p(m/c − 1), the last by 5 series terms (|t| < 2^-8: error < 1e-15).
let lnC: usize = 0; // f64[256]: ln(1 + i/256)
let invC: usize = 0; // f64[256]: 1 / (1 + i/256)

export function initLn(): void {
  if (lnC != 0) return;
  lnC = heap.alloc(256 << 3);
  invC = heap.alloc(256 << 3);
  for (let i = 0; i < 256; i++) {
    const c = 1.0 + <f64>i / 256.0;
    store<f64>(lnC + (<usize>i << 3), lnSeries(c));
    store<f64>(invC + (<usize>i << 3), 1.0 / c);
  }
}

/** ln x for positive finite x (initLn() first). */
// @ts-ignore: decorator
@inline
export function ln(x: f64): f64 {
  let bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  if (e == -1023) {
    bits = reinterpret<u64>(x * TWO54);
    e = <i32>((bits >> 52) & 0x7ff) - 1023 - 54;
  }
  const i = <usize>((bits >> 44) & 0xff) << 3;
  const m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  const t = m * load<f64>(invC + i) - 1.0;
  return <f64>e * LN2 + load<f64>(lnC + i) + t * (1.0 + t * (-0.5 + t * (C3 + t * (-0.25 + t * C5))));
}
