// NumPy .npy files, format version 1.0: the lossless tensor format of the run folder (any ML
// engineer can `np.load` it). Layout: "\x93NUMPY", major 1, minor 0, u16 LE header length, an
// ASCII Python dict literal padded with spaces and a final "\n" so that the payload starts at a
// multiple of 64 bytes, then the C-order little-endian payload.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { writeFileAtomic } from "./atomic-write.ts";

export type NpyArray = Float32Array | Float64Array | Uint8Array | Int32Array | Uint16Array | Int16Array;

export interface NpyTensor<T extends NpyArray = NpyArray> {
  data: T;
  shape: number[];
}

export class NpyError extends Error {
  constructor(
    readonly code:
      "BAD_MAGIC" | "BAD_VERSION" | "BAD_HEADER" | "UNSUPPORTED_DTYPE" | "TRUNCATED" | "TRAILING_BYTES" | "BAD_SHAPE",
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "NpyError";
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES = {
  "<f4": Float32Array,
  "<f8": Float64Array,
  "|u1": Uint8Array,
  "<i4": Int32Array,
  "<u2": Uint16Array,
  "<i2": Int16Array,
} as const;
type Descr = keyof typeof DTYPES;

function descrOf(a: NpyArray): Descr {
  if (a instanceof Float32Array) return "<f4";
  if (a instanceof Float64Array) return "<f8";
  if (a instanceof Uint8Array) return "|u1";
  if (a instanceof Int32Array) return "<i4";
  if (a instanceof Uint16Array) return "<u2";
  return "<i2";
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeNpy(t: NpyTensor): Uint8Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length)
    throw new NpyError(
      "BAD_SHAPE",
      "<memory>",
      `shape ${JSON.stringify(t.shape)} holds ${count} values but the array has ${t.data.length}`,
    );
  if (!littleEndian) throw new Error("big-endian hosts are not supported");
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(", ")})`;
  let header = `{'descr': '${descrOf(t.data)}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  if (header.length > 0xffff)
    throw new NpyError("BAD_HEADER", "<memory>", "header longer than 65535 bytes (use format 2.0)");
  const payload = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(10 + header.length + payload.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(payload, 10 + header.length);
  return out;
}

/** The header's dtype, shape and the payload's offset (the bytes need reach only past the header). */
function npyHeader(
  bytes: Uint8Array,
  file: string,
): { descr: Descr; shape: number[]; shapeText: string; start: number } {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    throw new NpyError("BAD_MAGIC", file, "not a .npy file (magic \\x93NUMPY missing)");
  if (bytes[6] !== 1) throw new NpyError("BAD_VERSION", file, `npy format ${bytes[6]}.${bytes[7]}; only 1.0 is read`);
  const hlen = bytes[8] | (bytes[9] << 8);
  if (bytes.length < 10 + hlen) throw new NpyError("TRUNCATED", file, `file ends inside its ${hlen}-byte header`);
  const header = new TextDecoder("latin1").decode(bytes.subarray(10, 10 + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyError("BAD_HEADER", file, `header is not a npy dict: ${header.trim()}`);
  if (!(descr in DTYPES))
    throw new NpyError("UNSUPPORTED_DTYPE", file, `dtype '${descr}' is not one of ${Object.keys(DTYPES).join(", ")}`);
  if (fortran === "True")
    throw new NpyError("BAD_HEADER", file, "fortran_order True is not supported (save with np.ascontiguousarray)");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new NpyError("BAD_HEADER", file, `bad shape (${shapeText})`);
  return { descr: descr as Descr, shape, shapeText, start: 10 + hlen };
}

export function decodeNpy(bytes: Uint8Array, file = "<memory>"): NpyTensor {
  const { descr, shape, shapeText, start } = npyHeader(bytes, file);
  const Ctor = DTYPES[descr];
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - start < need)
    throw new NpyError(
      "TRUNCATED",
      file,
      `shape (${shapeText}) needs ${need} payload bytes, file holds ${bytes.length - start}`,
    );
  if (bytes.length - start > need)
    throw new NpyError("TRAILING_BYTES", file, `${bytes.length - start - need} bytes after the payload`);
  // Copy into a fresh, aligned buffer (the payload offset need not be aligned for the element
  // size; and Buffer#slice would share memory, so copy explicitly).
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(start, start + need));
  return { data: new Ctor(copy.buffer, 0, count), shape };
}

export function writeNpy(file: string, t: NpyTensor): void {
  writeFileAtomic(file, encodeNpy(t));
}

export function readNpy(file: string): NpyTensor {
  return decodeNpy(readFileSync(file), file);
}

/** A .npy file's shape, from its header alone (a count or a size check need not read the payload). */
export function readNpyShape(file: string): number[] {
  const fd = openSync(file, "r");
  try {
    const head = new Uint8Array(10);
    const hlen = readSync(fd, head, 0, 10, 0) === 10 ? head[8] | (head[9] << 8) : 0;
    const bytes = new Uint8Array(10 + hlen);
    const got = readSync(fd, bytes, 0, bytes.length, 0);
    return npyHeader(bytes.subarray(0, got), file).shape;
  } finally {
    closeSync(fd);
  }
}
