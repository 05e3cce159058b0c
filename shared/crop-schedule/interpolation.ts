// Crop-and-resize as linear algebra: resizing a crop [start, start+len) of a length-`srcLen`
// axis to `outLen` samples with bilinear interpolation (half-pixel centres, align_corners =
// false, as torch's resize) is an outLen × srcLen matrix R; a crop of an image X (H × W) is
// R_y · X · R_xᵀ. Recover feeds these matrices to the graph so gradients flow through the crop.
// A turned crop (box.angle) is not separable: it is sampled point by point (turnedCropTaps).
import type { CropBox } from "./random-resized-crop.ts";

/** outLen × srcLen row-major; `flip` reverses the output order (horizontal flip). Rows sum to 1. */
export function interpolationMatrix(
  srcLen: number,
  start: number,
  len: number,
  outLen: number,
  flip = false,
): Float32Array {
  if (!(start >= 0 && len >= 1 && start + len <= srcLen && outLen >= 1)) {
    throw new RangeError(
      `interpolationMatrix: crop [${start}, ${start + len}) must lie inside [0, ${srcLen}) and outLen ≥ 1`,
    );
  }
  const m = new Float32Array(outLen * srcLen);
  const step = len / outLen;
  for (let o = 0; o < outLen; o++) {
    const x = Math.min(Math.max((o + 0.5) * step - 0.5, 0), len - 1);
    const x0 = Math.floor(x);
    const x1 = Math.min(x0 + 1, len - 1);
    const w = x - x0;
    const row = (flip ? outLen - 1 - o : o) * srcLen;
    m[row + start + x0] += 1 - w;
    m[row + start + x1] += w;
  }
  return m;
}

/** The crop `box` of a planar C × H × W image, resized to outSize × outSize (flipped if box.flip). */
export function cropResize(
  pixels: Float32Array,
  channels: number,
  height: number,
  width: number,
  box: CropBox,
  outSize: number,
): Float32Array {
  return cropResizeInto(
    new Float32Array(channels * outSize * outSize),
    pixels,
    channels,
    height,
    width,
    box,
    outSize,
    outSize,
  );
}

/**
 * cropResize to any outH × outW, written into `out` (C × outH × outW). A Float64Array `out` keeps
 * the sums unrounded: recover's collage normalises them before its own float32 rounding.
 */
export function cropResizeInto<T extends Float32Array | Float64Array>(
  out: T,
  pixels: Float32Array,
  channels: number,
  height: number,
  width: number,
  box: CropBox,
  outH: number,
  outW: number,
): T {
  if (box.angle) {
    const plane = height * width,
      outPlane = outH * outW;
    out.fill(0, 0, channels * outPlane);
    turnedCropTaps(height, width, box, outH, outW, (at, src, w) => {
      for (let c = 0; c < channels; c++) out[c * outPlane + at] += w * pixels[c * plane + src];
    });
    return out;
  }
  const ry = interpolationMatrix(height, box.y, box.h, outH, false);
  const rx = interpolationMatrix(width, box.x, box.w, outW, box.flip);
  const tmp = new Float32Array(outH * width);
  for (let c = 0; c < channels; c++) {
    const plane = pixels.subarray(c * height * width, (c + 1) * height * width);
    // tmp = R_y · X (only the rows of the crop carry weight)
    tmp.fill(0);
    for (let o = 0; o < outH; o++) {
      for (let y = box.y; y < box.y + box.h; y++) {
        const wy = ry[o * height + y];
        if (wy === 0) continue;
        for (let x = 0; x < width; x++) tmp[o * width + x] += wy * plane[y * width + x];
      }
    }
    // out = tmp · R_xᵀ
    const base = c * outH * outW;
    for (let o = 0; o < outH; o++) {
      for (let q = 0; q < outW; q++) {
        let s = 0;
        for (let x = box.x; x < box.x + box.w; x++) s += tmp[o * width + x] * rx[q * width + x];
        out[base + o * outW + q] = s;
      }
    }
  }
  return out;
}

/**
 * The bilinear taps of a turned crop: the crop's output grid (half-pixel centres, as
 * interpolationMatrix) turned by box.angle about the crop's centre; `tap(at, src, w)` is called
 * four times per output pixel `at` (row-major, after the flip) with source pixel `src` (y·width + x)
 * and its weight. Points outside the image take the nearest edge pixel (no black corners on
 * natural images, the background on digits).
 */
export function turnedCropTaps(
  height: number,
  width: number,
  box: CropBox,
  outH: number,
  outW: number,
  tap: (at: number, src: number, w: number) => void,
): void {
  const t = ((box.angle ?? 0) * Math.PI) / 180;
  const cos = Math.cos(t),
    sin = Math.sin(t);
  const cx = box.x + box.w / 2 - 0.5,
    cy = box.y + box.h / 2 - 0.5;
  const sx = box.w / outW,
    sy = box.h / outH;
  for (let o = 0; o < outH; o++) {
    const dy = (o + 0.5) * sy - box.h / 2;
    for (let q = 0; q < outW; q++) {
      const dx = (q + 0.5) * sx - box.w / 2;
      const x = Math.min(Math.max(cx + cos * dx - sin * dy, 0), width - 1);
      const y = Math.min(Math.max(cy + sin * dx + cos * dy, 0), height - 1);
      const x0 = Math.floor(x),
        y0 = Math.floor(y);
      const x1 = Math.min(x0 + 1, width - 1),
        y1 = Math.min(y0 + 1, height - 1);
      const wx = x - x0,
        wy = y - y0;
      const at = o * outW + (box.flip ? outW - 1 - q : q);
      tap(at, y0 * width + x0, (1 - wy) * (1 - wx));
      tap(at, y0 * width + x1, (1 - wy) * wx);
      tap(at, y1 * width + x0, wy * (1 - wx));
      tap(at, y1 * width + x1, wy * wx);
    }
  }
}

/**
 * The crop `box` (turned or not) as one (height·width) × (outH·outW) matrix Mᵀ: crop = X · Mᵀ for
 * each image plane X flattened to a row. Recover feeds it when its crops turn (not separable),
 * one per step: `into`, when given, is overwritten and returned (no new (64²)² floats a step).
 */
export function sampledCropMatrixT(
  height: number,
  width: number,
  box: CropBox,
  outH: number,
  outW: number,
  into?: Float32Array,
): Float32Array {
  const out = outH * outW;
  const m = into ? into.fill(0) : new Float32Array(height * width * out);
  if (m.length !== height * width * out)
    throw new Error(`sampledCropMatrixT: into holds ${m.length} floats, not ${height}·${width}·${out}`);
  turnedCropTaps(height, width, box, outH, outW, (at, src, w) => (m[src * out + at] += w));
  return m;
}
