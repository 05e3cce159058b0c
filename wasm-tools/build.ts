// Builds the label-stats WebAssembly module and the inspector page (wasm-tools/inspector/)
// into wasm-tools/build/. Offline: asc comes from the assemblyscript devDependency.
// Usage: npx tsx wasm-tools/build.ts [--if-stale]
// The compilers are imported only when something is stale: loading asc (binaryen) alone takes
// ≈ 10 s and 1.5 GB, which every `distill inspect` and `npm test`'s pretest would otherwise pay.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { INSPECTOR_BUILD, INSPECTOR_FILES, WASM_PATH } from "./node/build-paths.ts";

const root = dirname(fileURLToPath(import.meta.url));
const out = WASM_PATH;

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
  // written beside and renamed: tests in parallel processes never read half a module
  const tmp = `${out}.tmp-${process.pid}`;
  const { default: asc } = await import("assemblyscript/asc");
  const { error, stderr } = await asc.main([
    join(root, "assembly", "index.ts"),
    "-O3",
    "--runtime",
    "minimal",
    "--noAssert",
    "--outFile",
    tmp,
  ]);
  if (error) {
    rmSync(tmp, { force: true });
    throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  }
  renameSync(tmp, out);
  return out;
}

/** Bundles wasm-tools/inspector/ (and what it imports from src/ and shared/) with esbuild, beside a copy of the module. */
export async function buildInspector(ifStale = false): Promise<string> {
  const wasm = await buildWasm(true);
  const js = join(INSPECTOR_BUILD, "inspector.js");
  const sources = Math.max(
    newest(join(root, "inspector")),
    newest(join(root, "src")),
    newest(join(root, "..", "shared")),
    statSync(wasm).mtimeMs,
  );
  if (ifStale && INSPECTOR_FILES.every((f) => existsSync(join(INSPECTOR_BUILD, f))) && statSync(js).mtimeMs >= sources)
    return INSPECTOR_BUILD;
  // built beside and renamed into place: a reader never sees half a page
  const tmp = `${INSPECTOR_BUILD}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const { build: esbuild } = await import("esbuild");
  await esbuild({
    entryPoints: [join(root, "inspector", "inspector.ts")],
    outfile: join(tmp, "inspector.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  });
  copyFileSync(join(root, "inspector", "index.html"), join(tmp, "index.html"));
  copyFileSync(wasm, join(tmp, "label-stats.wasm"));
  rmSync(INSPECTOR_BUILD, { recursive: true, force: true });
  try {
    renameSync(tmp, INSPECTOR_BUILD);
  } catch (e) {
    // another process built it at the same moment: keep theirs
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(js)) throw e;
  }
  return INSPECTOR_BUILD;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes("--if-stale");
  const wasm = await buildWasm(ifStale);
  console.log(`built ${wasm} (${statSync(wasm).size} bytes)`);
  const page = await buildInspector(ifStale);
  console.log(`built ${page}/ (${INSPECTOR_FILES.map((f) => `${f} ${statSync(join(page, f)).size} B`).join(", ")})`);
}
