// Where `npm run build:wasm` (wasm-tools/build.ts) writes its outputs, and the Node loaders read
// them: the run-time side knows these paths, never the build script.
import { fileURLToPath } from "node:url";

/** The label-stats module. */
export const WASM_PATH = fileURLToPath(new URL("../build/label-stats.wasm", import.meta.url));
/** The inspector page, self-contained: index.html, inspector.js, label-stats.wasm. */
export const INSPECTOR_BUILD = fileURLToPath(new URL("../build/inspector", import.meta.url));
export const INSPECTOR_FILES = ["index.html", "inspector.js", "label-stats.wasm"] as const;

/** The message for a missing build output. */
export const notBuilt = (path: string) => `${path} is missing: run \`npm run build:wasm\` first`;
