// CRC-32 (IEEE, as zlib), slice-by-16: sixteen 256-entry tables (16 KiB) so the loop consumes
// 16 bytes per step; the epoch checksums of a table cover every record byte.
let tables: usize = 0;

function build(): void {
  tables = heap.alloc(16 * 256 * 4);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let b = 0; b < 8; b++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(tables + (n << 2), c);
  }
  for (let n: u32 = 0; n < 256; n++) {
    let c = load<u32>(tables + (n << 2));
    for (let t: u32 = 1; t < 16; t++) {
      c = load<u32>(tables + ((c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(tables + (((t << 8) + n) << 2), c);
    }
  }
}

// @ts-ignore: decorator
@inline
function T(t: usize, i: u32, T0: usize): u32 {
  return load<u32>(T0 + ((t << 10) + (<usize>i << 2)));
}

/** CRC-32 of len bytes at p, continuing from `seed` (a previous result, 0 to start). */
export function crc32(p: usize, len: usize, seed: u32): u32 {
  if (tables == 0) build();
  const T0 = tables;
  let c = ~seed;
  let i: usize = 0;
  // unaligned loads are legal in wasm: no byte steps to reach alignment
  for (; i + 16 <= len; i += 16) {
    const a = load<u32>(p + i) ^ c;
    const b = load<u32>(p + i + 4);
    const d = load<u32>(p + i + 8);
    const e = load<u32>(p + i + 12);
    c =
      T(15, a & 0xff, T0) ^ T(14, (a >>> 8) & 0xff, T0) ^ T(13, (a >>> 16) & 0xff, T0) ^ T(12, a >>> 24, T0) ^
      T(11, b & 0xff, T0) ^ T(10, (b >>> 8) & 0xff, T0) ^ T(9, (b >>> 16) & 0xff, T0) ^ T(8, b >>> 24, T0) ^
      T(7, d & 0xff, T0) ^ T(6, (d >>> 8) & 0xff, T0) ^ T(5, (d >>> 16) & 0xff, T0) ^ T(4, d >>> 24, T0) ^
      T(3, e & 0xff, T0) ^ T(2, (e >>> 8) & 0xff, T0) ^ T(1, (e >>> 16) & 0xff, T0) ^ T(0, e >>> 24, T0);
  }
  for (; i < len; i++) c = load<u32>(T0 + (((c ^ load<u8>(p + i)) & 0xff) << 2)) ^ (c >>> 8);
  return ~c;
}
