import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy, NpyError, readNpy, readNpyShape, writeNpy } from "../../gpu-cluster/io/npy.ts";
import { decodeImage } from "../../gpu-cluster/data/index.ts";
import { encodeGridPng, writePng } from "../../gpu-cluster/io/png.ts";

const dir = mkdtempSync(join(tmpdir(), "npy-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(".npy tensor files", () => {
  it("round-trips float32 byte-exact, including NaN payloads, -0 and subnormals", () => {
    const data = new Float32Array(2 * 3 * 5 * 7);
    const bits = new Uint32Array(data.buffer);
    for (let i = 0; i < bits.length; i++) bits[i] = Math.imul(i + 1, 2654435761) >>> 0;
    bits[0] = 0x7fc00001; // a NaN with payload
    bits[1] = 0x80000000; // -0
    bits[2] = 0x00000001; // smallest subnormal
    const file = join(dir, "x.npy");
    writeNpy(file, { data, shape: [2, 3, 5, 7] });
    const back = readNpy(file);
    expect(back.shape).toEqual([2, 3, 5, 7]);
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(new Uint8Array(back.data.buffer)).toEqual(new Uint8Array(data.buffer));
  });

  it("writes the numpy v1.0 layout: magic, 64-byte aligned header, C-order little-endian payload", () => {
    const bytes = encodeNpy({ data: Uint8Array.from([1, 2, 3]), shape: [3] });
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const hlen = bytes[8] | (bytes[9] << 8);
    expect((10 + hlen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
    expect(header).toMatch(/^\{'descr': '\|u1', 'fortran_order': False, 'shape': \(3,\), \} *\n$/);
    expect(Array.from(bytes.subarray(10 + hlen))).toEqual([1, 2, 3]);
    const i32 = decodeNpy(encodeNpy({ data: Int32Array.from([-1, 2 ** 31 - 1]), shape: [1, 2] }));
    expect(Array.from(i32.data)).toEqual([-1, 2 ** 31 - 1]);
  });

  it("names truncation and trailing bytes", () => {
    const bytes = encodeNpy({ data: new Float32Array(10), shape: [10] });
    const file = join(dir, "cut.npy");
    writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    expect(() => readNpy(file)).toThrow(NpyError);
    expect(() => readNpy(file)).toThrow(/cut\.npy: shape \(10,\) needs 40 payload bytes, file holds 39/);
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expect(() => decodeNpy(extra, "e.npy")).toThrow(/e\.npy: 4 bytes after the payload/);
    expect(() => decodeNpy(new Uint8Array(20), "z.npy")).toThrow(/magic/);
  });

  it("reads a shape from the header alone, as decoding the whole file gives it", () => {
    let state = 7;
    const next = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n;
    for (let trial = 0; trial < 20; trial++) {
      const shape = Array.from({ length: 1 + next(4) }, () => next(6));
      const count = shape.reduce((a, b) => a * b, 1);
      const file = join(dir, `s${trial}.npy`);
      writeNpy(file, { data: new Int16Array(count), shape });
      expect(readNpyShape(file)).toEqual(readNpy(file).shape);
    }
    // the payload is not read: a file cut inside it still has its shape; one cut inside the header does not
    const bytes = encodeNpy({ data: new Float32Array(6), shape: [2, 3] });
    const file = join(dir, "head.npy");
    const payloadAt = 10 + (bytes[8] | (bytes[9] << 8));
    writeFileSync(file, bytes.subarray(0, payloadAt + 3));
    expect(readNpyShape(file)).toEqual([2, 3]);
    writeFileSync(file, bytes.subarray(0, payloadAt - 1));
    expect(() => readNpyShape(file)).toThrow(/head\.npy: file ends inside its \d+-byte header/);
    writeFileSync(file, bytes.subarray(0, 5));
    expect(() => readNpyShape(file)).toThrow(/magic/);
  });
});

describe("PNG output", () => {
  it("writes single images that decode back to the same bytes", () => {
    const data = Uint8Array.from({ length: 3 * 4 * 6 }, (_, i) => (i * 37) & 255);
    const file = join(dir, "one.png");
    writePng(file, { data, channels: 3, height: 4, width: 6 });
    const back = decodeImage(readFileSync(file), file);
    expect(Array.from(back.data, (v) => Math.round(v * 255))).toEqual(Array.from(data));
  });

  it("lays out a grid with one row per class and enlarges small images", () => {
    // 3 classes × 2 ipc of 1 × 4 × 4, image i filled with value i / 10.
    const n = 6;
    const imgs = new Float32Array(n * 16);
    for (let i = 0; i < n; i++) imgs.fill(i / 10, i * 16, (i + 1) * 16);
    const png = decodeImage(encodeGridPng(imgs, n, 1, 4, 4, 2, { cell: 8, gap: 1 }), "grid.png");
    expect([png.height, png.width]).toEqual([3 * 8 + 4, 2 * 8 + 3]);
    const at = (y: number, x: number) => Math.round(png.data[y * png.width + x] * 255);
    expect(at(0, 0)).toBe(255); // gap
    expect(at(1 + 2 * 9 + 3, 1 + 1 * 9 + 3)).toBe(Math.round(0.5 * 255)); // row 2 (class 2), column 1 → image 5
    expect(at(1 + 9, 1)).toBe(Math.round(0.2 * 255)); // row 1, column 0 → image 2
  });
});
