// Softmax at a temperature over rows of teacher or student logits, numerically stable (the row's
// maximum taken out before exp): relabel's soft labels and the probe's KL (softmaxRows), the
// selections' cross-entropy (logSumExp) and k-means features (logSoftmax).

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

/**
 * softmax(logits / t) of `rows` rows of `classes` logits, written into `out` from `outOffset`.
 * Kept in this exact arithmetic (exp in place, then one division by the double sum): relabel's
 * tables, and the students cached on them, stay bit-identical to those of earlier runs.
 */
export function softmaxRows(
  logits: Float32Array,
  rows: number,
  classes: number,
  t: number,
  out: Float32Array,
  outOffset = 0,
): void {
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[r * classes + k] / t);
    let sum = 0;
    for (let k = 0; k < classes; k++)
      sum += out[outOffset + r * classes + k] = Math.exp(logits[r * classes + k] / t - max);
    for (let k = 0; k < classes; k++) out[outOffset + r * classes + k] /= sum;
  }
}
