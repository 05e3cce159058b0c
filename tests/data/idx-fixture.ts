// Small IDX files and folders (MNIST layout) for the tests of what reads them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 8, dims.length]);
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A small IDX folder: n train and m val images of h × w with labels i mod classes. */
export function writeIdxFolder(dir: string, n: number, m: number, h: number, w: number, classes: number, gz: boolean) {
  const mk = (count: number, seed: number) => {
    const img = Uint8Array.from({ length: count * h * w }, (_, i) => (i * 31 + seed) & 255);
    const lab = Uint8Array.from({ length: count }, (_, i) => i % classes);
    return [idx([count, h, w], img), idx([count], lab)];
  };
  const [ti, tl] = mk(n, 1);
  const [vi, vl] = mk(m, 2);
  const z = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const ext = gz ? ".gz" : "";
  writeFileSync(join(dir, `train-images-idx3-ubyte${ext}`), z(ti));
  writeFileSync(join(dir, `train-labels-idx1-ubyte${ext}`), z(tl));
  writeFileSync(join(dir, `t10k-images-idx3-ubyte${ext}`), z(vi));
  writeFileSync(join(dir, `t10k-labels-idx1-ubyte${ext}`), z(vl));
}
