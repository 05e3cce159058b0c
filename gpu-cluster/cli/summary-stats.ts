// Means and spreads of per-seed or per-draw figures, as the reports and results tables print them.

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function sampleSd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Population standard deviation (n): the "± std over seeds" of the results tables. */
export function populationSd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
}

/** A fraction in percent with two decimals, for table cells; a mean that rounds to zero prints "0.00", never "-0.00". */
export function percent(x: number): string {
  const s = (100 * x).toFixed(2);
  return s === "-0.00" ? "0.00" : s;
}

/** A difference of fractions in percentage points with its sign ("+0.33", "-0.10"); a tie prints "+0.00". */
export function signedPercent(x: number): string {
  const s = percent(x);
  return s.startsWith("-") ? s : `+${s}`;
}
