// Bilinear resampling of planar images, separable, with half-pixel centres (as PIL and
// torchvision). When shrinking, the triangle filter's support widens with the scale factor so
// that every source pixel contributes (PIL's antialiased BILINEAR): no aliasing on big downscales.

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  stride: number;
}

function taps(src: number, dst: number): Taps {
  const scale = src / dst;
  const support = Math.max(1, scale); // triangle half-width in source pixels
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const weights = new Float32Array(dst * stride);
  for (let i = 0; i < dst; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(src, Math.ceil(centre + support));
    let sum = 0;
    let n = 0;
    for (let j = lo; j < hi && n < stride; j++, n++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[i * stride + n] = w;
      sum += w;
    }
    if (sum === 0) {
      // Degenerate only when dst > src at the very border; take the nearest pixel.
      weights[i * stride] = 1;
      sum = 1;
      n = Math.max(n, 1);
    }
    for (let k = 0; k < n; k++) weights[i * stride + k] /= sum;
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, weights, stride };
}

/** Resizes C × H × W planar floats to C × outH × outW. */
export function resizeBilinear(
  data: Float32Array,
  channels: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
): Float32Array {
  if (outH === height && outW === width) return data.slice();
  const tx = taps(width, outW);
  const ty = taps(height, outH);
  const tmp = new Float32Array(height * outW);
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    const plane = data.subarray(c * height * width, (c + 1) * height * width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        const s = tx.start[x];
        for (let k = 0; k < tx.count[x]; k++) acc += plane[y * width + s + k] * tx.weights[x * tx.stride + k];
        tmp[y * outW + x] = acc;
      }
    }
    const dst = out.subarray(c * outH * outW, (c + 1) * outH * outW);
    for (let y = 0; y < outH; y++) {
      const s = ty.start[y];
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let k = 0; k < ty.count[y]; k++) acc += tmp[(s + k) * outW + x] * ty.weights[y * ty.stride + k];
        dst[y * outW + x] = acc;
      }
    }
  }
  return out;
}
