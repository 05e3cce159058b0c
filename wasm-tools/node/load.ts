// Node entry: loads the built module (npm run build:wasm) from wasm-tools/build/; epoch CRCs by
// node:zlib when it has crc32 (the module's own otherwise, as in browsers).
import { readFileSync, existsSync } from "node:fs";
import * as zlib from "node:zlib";
import { LabelStatsModule } from "../src/label-stats.ts";
import { notBuilt, WASM_PATH } from "./build-paths.ts";

export { WASM_PATH };

let cached: LabelStatsModule | null = null;

export function loadLabelStats(): LabelStatsModule {
  if (cached) return cached;
  if (!existsSync(WASM_PATH)) throw new Error(notBuilt(WASM_PATH));
  // node:zlib's crc32 (Node ≥ 20.15, 22.2) is native and ~3× faster than the module's slice-by-8
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  cached = LabelStatsModule.loadSync(readFileSync(WASM_PATH), native ? { crc32: (b, seed) => native(b, seed) } : {});
  return cached;
}
