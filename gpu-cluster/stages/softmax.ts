// Softmax at a temperature over rows of teacher or student logits, in one numerically stable
// form (the row's log-sum-exp with its maximum taken out) for relabel's soft labels, the
// selections' cross-entropy and k-means features, and the probe's KL.

/** log Σ_k exp(row[k] / t), without overflow. */
export function logSumExp(row: ArrayLike<number>, t = 1): number {
  let max = -Infinity;
  for (let k = 0; k < row.length; k++) max = Math.max(max, row[k] / t);
  if (max === -Infinity) return max;
  let sum = 0;
  for (let k = 0; k < row.length; k++) sum += Math.exp(row[k] / t - max);
  return max + Math.log(sum);
}

/** log softmax(row / t). */
export function logSoftmax(row: ArrayLike<number>, t = 1): Float32Array {
  const lse = logSumExp(row, t);
  return Float32Array.from(row, (v) => v / t - lse);
}

/** softmax(logits / t) of `rows` rows of `classes` logits, written into `out` from `outOffset`. */
export function softmaxRows(
  logits: Float32Array,
  rows: number,
  classes: number,
  t: number,
  out: Float32Array,
  outOffset = 0,
): void {
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const lse = logSumExp(row, t);
    for (let k = 0; k < classes; k++) out[outOffset + r * classes + k] = Math.exp(row[k] / t - lse);
  }
}
