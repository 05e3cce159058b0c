// Vitest global setup: the WebAssembly module and the inspector page are build outputs
// (`npm run build:wasm`), which the run-time code only loads; build them when stale, as
// `npm test`'s pretest does, so a plain `vitest run` finds them too.
import { buildInspector } from "../wasm-tools/build.ts";

export default async function setup(): Promise<void> {
  await buildInspector(true); // builds the module first when it is stale
}
