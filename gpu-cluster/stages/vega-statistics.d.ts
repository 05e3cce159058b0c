// vega-statistics ships no types; the one function the recover gate uses.
declare module "vega-statistics" {
  /** The p-quantile of the normal distribution (mean 0, sd 1 by default). */
  export function quantileNormal(p: number, mean?: number, stdev?: number): number;
}
