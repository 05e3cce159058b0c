// Node entry: loads the built module (npm run build:wasm) from wasm-tools/build/.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LabelStatsModule } from "./label-stats.ts";

export const WASM_PATH = fileURLToPath(new URL("../build/label-stats.wasm", import.meta.url));

let cached: LabelStatsModule | null = null;

export function loadLabelStats(): LabelStatsModule {
  if (cached) return cached;
  if (!existsSync(WASM_PATH)) throw new Error(`${WASM_PATH} is missing: run \`npm run build:wasm\` first`);
  cached = LabelStatsModule.loadSync(readFileSync(WASM_PATH));
  return cached;
}
