// PNG output for people to look at: single images, a folder of them, and a grid with one row per class.
// Input pixels are planar (C × H × W) floats in [0, 1] or uint8; 1 channel → gray PNG, 3 → RGB.
import { join } from "node:path";
import { encode } from "fast-png";
import { resizeBilinear } from "../data/resize.ts";
import { writeFileAtomic, writeFolderAtomic } from "./atomic-write.ts";

export interface PlanarPixels {
  data: Float32Array | Uint8Array;
  channels: number;
  height: number;
  width: number;
}

function toByte(v: number, scale: number): number {
  const x = Math.round(v * scale);
  return x < 0 ? 0 : x > 255 ? 255 : x;
}

/** Planar → interleaved 8-bit PNG bytes. */
export function encodePlanarPng(img: PlanarPixels): Uint8Array {
  const { channels: C, height: H, width: W } = img;
  if (C !== 1 && C !== 3) throw new Error(`PNG output needs 1 or 3 channels, got ${C}`);
  const scale = img.data instanceof Uint8Array ? 1 : 255;
  const plane = H * W;
  const out = new Uint8Array(plane * C);
  for (let p = 0; p < plane; p++) for (let c = 0; c < C; c++) out[p * C + c] = toByte(img.data[c * plane + p], scale);
  return encode({ width: W, height: H, data: out, channels: C, depth: 8 });
}

export function writePng(file: string, img: PlanarPixels): void {
  writeFileAtomic(file, encodePlanarPng(img));
}

/** `dir`/000000.png … for `n` square images, written beside and renamed into place so a crash leaves no half folder. */
export function writePngFolder(dir: string, pixels: Float32Array, n: number, c: number, h: number): void {
  const per = c * h * h;
  writeFolderAtomic(dir, (tmp) => {
    for (let i = 0; i < n; i++)
      writePng(join(tmp, `${String(i).padStart(6, "0")}.png`), {
        data: pixels.subarray(i * per, (i + 1) * per),
        channels: c,
        height: h,
        width: h,
      });
  });
}

export interface GridOptions {
  /** Target cell size in pixels: small images are enlarged (nearest) to reach it, big ones shrunk. */
  cell?: number;
  /** Gap between cells, in pixels (drawn white). */
  gap?: number;
  /** At most this many rows (classes) and columns (images per class) are drawn. */
  maxRows?: number;
  maxCols?: number;
}

/**
 * A grid PNG of `rows × cols` images taken from an N × C × H × W array where image i sits at
 * row floor(i / cols), column i mod cols (the run folder's order: class-major, ipc index minor).
 */
export function encodeGridPng(
  images: Float32Array | Uint8Array,
  n: number,
  channels: number,
  height: number,
  width: number,
  cols: number,
  opts: GridOptions = {},
): Uint8Array {
  const rows = Math.ceil(n / cols);
  const showRows = Math.min(rows, opts.maxRows ?? 100);
  const showCols = Math.min(cols, opts.maxCols ?? 20);
  const target = opts.cell ?? 64;
  const gap = opts.gap ?? 2;
  const up = height < target ? Math.max(1, Math.floor(target / height)) : 1;
  const down = height > 2 * target;
  const ch = down ? target : height * up;
  const cw = down ? Math.max(1, Math.round((width * target) / height)) : width * up;
  const gw = showCols * cw + (showCols + 1) * gap;
  const gh = showRows * ch + (showRows + 1) * gap;
  const scale = images instanceof Uint8Array ? 1 / 255 : 1;
  const grid = new Float32Array(channels * gh * gw).fill(1);
  const per = channels * height * width;
  for (let r = 0; r < showRows; r++) {
    for (let c = 0; c < showCols; c++) {
      const i = r * cols + c;
      if (i >= n) continue;
      let cell: Float32Array = Float32Array.from(images.subarray(i * per, (i + 1) * per), (v) => v * scale);
      if (down) cell = resizeBilinear(cell, channels, height, width, ch, cw);
      const sh = down ? ch : height;
      const sw = down ? cw : width;
      const oy = gap + r * (ch + gap);
      const ox = gap + c * (cw + gap);
      for (let k = 0; k < channels; k++) {
        for (let y = 0; y < ch; y++) {
          for (let x = 0; x < cw; x++) {
            const sy = down ? y : Math.floor(y / up);
            const sx = down ? x : Math.floor(x / up);
            grid[k * gh * gw + (oy + y) * gw + ox + x] = cell[k * sh * sw + sy * sw + sx];
          }
        }
      }
    }
  }
  return encodePlanarPng({ data: grid, channels, height: gh, width: gw });
}

export function writeGridPng(
  file: string,
  images: Float32Array | Uint8Array,
  n: number,
  channels: number,
  height: number,
  width: number,
  cols: number,
  opts?: GridOptions,
): void {
  writeFileAtomic(file, encodeGridPng(images, n, channels, height, width, cols, opts));
}
