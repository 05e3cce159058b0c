// Node entry: loads the built module (npm run build:wasm) from wasm-tools/build/; epoch CRCs by
// node:zlib when it has crc32 (the module's own otherwise, as in browsers).
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
import { LabelStatsModule } from "./label-stats.ts";

export const WASM_PATH = fileURLToPath(new URL("../build/label-stats.wasm", import.meta.url));

let cached: LabelStatsModule | null = null;

export function loadLabelStats(): LabelStatsModule {
  if (cached) return cached;
  if (!existsSync(WASM_PATH)) throw new Error(`${WASM_PATH} is missing: run \`npm run build:wasm\` first`);
  // node:zlib's crc32 (Node ≥ 20.15, 22.2) is native and ~3× faster than the module's slice-by-8
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  cached = LabelStatsModule.loadSync(readFileSync(WASM_PATH), native ? { crc32: (b, seed) => native(b, seed) } : {});
  return cached;
}
