// IDX files (the MNIST family's format): a 4-byte magic (0, 0, type, rank), `rank` big-endian
// uint32 dimensions, then the payload. Only unsigned-byte payloads (type 0x08) are images or
// labels in practice; other types are refused with the type named. Files may be gzip-compressed
// (Fashion-MNIST as Debian ships it): detected by the gzip magic, not by the file name.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DataError } from "./errors.ts";

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

/** Decompresses `bytes` when they start with the gzip magic; `file` names the source in errors. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    const msg = (e as Error).message;
    const truncated = /unexpected end|incomplete|truncated/i.test(msg);
    throw new DataError(
      truncated ? "TRUNCATED" : "BAD_MAGIC",
      file,
      `gzip stream is ${truncated ? "truncated" : "corrupt"} (${msg}); download the file again`,
    );
  }
}

/** Parses an IDX file held in memory. */
export function parseIdx(raw: Uint8Array, file: string): IdxArray {
  const bytes = maybeGunzip(raw, file);
  if (bytes.length < 4)
    throw new DataError("TRUNCATED", file, `only ${bytes.length} bytes; an IDX file starts with a 4-byte magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      "BAD_MAGIC",
      file,
      `not an IDX file: magic starts with 0x${hex(bytes[0])} 0x${hex(bytes[1])}, expected 0x00 0x00`,
    );
  }
  const type = bytes[2];
  const rank = bytes[3];
  if (!(type in TYPE_NAMES)) throw new DataError("BAD_MAGIC", file, `unknown IDX element type 0x${hex(type)}`);
  if (type !== 0x08) {
    throw new DataError(
      "BAD_HEADER",
      file,
      `IDX element type is ${TYPE_NAMES[type]}; images and labels must be unsigned bytes (0x08)`,
    );
  }
  if (rank < 1 || rank > 4) throw new DataError("BAD_HEADER", file, `IDX rank ${rank} is not 1 (labels) or 3 (images)`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DataError(
      "TRUNCATED",
      file,
      `${bytes.length} bytes, fewer than the ${headerBytes}-byte header of a rank-${rank} IDX file`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const payload = bytes.length - headerBytes;
  if (payload < expected) {
    throw new DataError(
      "TRUNCATED",
      file,
      `header says ${dims.join("×")} = ${expected} bytes of data but the file holds ${payload}; the file is truncated, download it again`,
    );
  }
  if (payload > expected) {
    throw new DataError(
      "TRAILING_BYTES",
      file,
      `header says ${dims.join("×")} = ${expected} bytes of data but the file holds ${payload}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

export function readIdx(file: string): IdxArray {
  let raw: Uint8Array;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new DataError("NOT_FOUND", file, `cannot read: ${(e as Error).message}`);
  }
  return parseIdx(raw, file);
}

function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}
