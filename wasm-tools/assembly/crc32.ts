// CRC-32 (IEEE, as zlib), slice-by-8: eight 256-entry tables so the loop consumes 8 bytes
// per step; the epoch checksums of a table cover every record byte.
let tables: usize = 0;

function build(): void {
  tables = heap.alloc(8 * 256 * 4);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let b = 0; b < 8; b++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(tables + (n << 2), c);
  }
  for (let n: u32 = 0; n < 256; n++) {
    let c = load<u32>(tables + (n << 2));
    for (let t: u32 = 1; t < 8; t++) {
      c = load<u32>(tables + ((c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(tables + (((t << 8) + n) << 2), c);
    }
  }
}

/** CRC-32 of len bytes at p, continuing from `seed` (a previous result, 0 to start). */
export function crc32(p: usize, len: usize, seed: u32): u32 {
  if (tables == 0) build();
  const T = tables;
  let c = ~seed;
  let i: usize = 0;
  // byte steps until p + i is 8-aligned is not needed in wasm (unaligned loads are legal)
  for (; i + 8 <= len; i += 8) {
    const a = load<u32>(p + i) ^ c;
    const b = load<u32>(p + i + 4);
    c =
      load<u32>(T + ((7 << 8) + (a & 0xff)) * 4) ^
      load<u32>(T + ((6 << 8) + ((a >>> 8) & 0xff)) * 4) ^
      load<u32>(T + ((5 << 8) + ((a >>> 16) & 0xff)) * 4) ^
      load<u32>(T + ((4 << 8) + (a >>> 24)) * 4) ^
      load<u32>(T + ((3 << 8) + (b & 0xff)) * 4) ^
      load<u32>(T + ((2 << 8) + ((b >>> 8) & 0xff)) * 4) ^
      load<u32>(T + ((1 << 8) + ((b >>> 16) & 0xff)) * 4) ^
      load<u32>(T + (b >>> 24) * 4);
  }
  for (; i < len; i++) c = load<u32>(T + ((c ^ load<u8>(p + i)) & 0xff) * 4) ^ (c >>> 8);
  return ~c;
}
