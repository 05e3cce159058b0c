// Builds the label-stats WebAssembly module (and, when its sources exist, the inspector page)
// into wasm-tools/build/. Offline: asc comes from the assemblyscript devDependency.
// Usage: npx tsx wasm-tools/build.ts [--if-stale]
import asc from "assemblyscript/asc";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, "build", "label-stats.wasm");

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

export async function buildWasm(ifStale = false): Promise<string> {
  if (ifStale && existsSync(out) && statSync(out).mtimeMs >= newest(join(root, "assembly"))) return out;
  mkdirSync(dirname(out), { recursive: true });
  const { error, stderr } = await asc.main([
    join(root, "assembly", "index.ts"),
    "-O3", "--runtime", "minimal", "--noAssert",
    "--outFile", out,
  ]);
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes("--if-stale");
  const wasm = await buildWasm(ifStale);
  console.log(`built ${wasm} (${statSync(wasm).size} bytes)`);
}
