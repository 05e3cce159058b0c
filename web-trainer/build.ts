// Bundles the browser trainer page (web-trainer/page/: the engine's graph, autodiff and step
// code, the edge client and onnxruntime-web) with esbuild into web-trainer/build/. ORT's own
// .wasm/.mjs files are not copied: the page server serves them from node_modules at /ort/.
// Usage: npx tsx web-trainer/build.ts [--if-stale]
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
export const TRAINER_BUILD = join(here, "build");
export const TRAINER_FILES = ["index.html", "trainer.js"];
/** onnxruntime-web's runtime files (served at /ort/). */
export const ORT_WEB_DIST = join(root, "node_modules", "onnxruntime-web", "dist");

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** Builds the page (beside, then renamed into place: a reader never sees half a page); returns its folder. */
export async function buildTrainerPage(ifStale = false): Promise<string> {
  const js = join(TRAINER_BUILD, "trainer.js");
  const sources = Math.max(
    ...["web-trainer/page", "gpu-cluster", "shared", "edge/client"].map((d) => newest(join(root, d))),
  );
  if (ifStale && TRAINER_FILES.every((f) => existsSync(join(TRAINER_BUILD, f))) && statSync(js).mtimeMs >= sources)
    return TRAINER_BUILD;
  const { build } = await import("esbuild");
  const tmp = `${TRAINER_BUILD}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await build({
    entryPoints: [join(here, "page", "main.ts")],
    outfile: join(tmp, "trainer.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: false,
    logLevel: "error",
    plugins: [
      {
        // The engine's default backend (runtime/node-backend.ts: onnxruntime-node and its Vulkan
        // driver search) is imported only when no backend is given; the page always gives
        // onnxruntime-web's, so that module is replaced by one that says so if ever reached.
        name: "no-node-backend",
        setup(b) {
          b.onResolve({ filter: /\/node-backend\.ts$/ }, () => ({ path: "node-backend", namespace: "stub" }));
          b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
            contents:
              "export const nodeBackend = { get Tensor() { throw new Error('onnxruntime-node does not run in a browser: pass a backend'); }, openSession() { throw new Error('onnxruntime-node does not run in a browser: pass a backend'); } };",
            loader: "js",
          }));
        },
      },
    ],
  });
  copyFileSync(join(here, "page", "index.html"), join(tmp, "index.html"));
  rmSync(TRAINER_BUILD, { recursive: true, force: true });
  try {
    renameSync(tmp, TRAINER_BUILD);
  } catch (e) {
    // another process built it at the same moment (tests in parallel): keep theirs
    rmSync(tmp, { recursive: true, force: true });
    if (!TRAINER_FILES.every((f) => existsSync(join(TRAINER_BUILD, f)))) throw e;
  }
  return TRAINER_BUILD;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = await buildTrainerPage(process.argv.includes("--if-stale"));
  process.stdout.write(`trainer page built in ${dir}\n`);
}
