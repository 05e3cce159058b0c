// `npm run bench`: runs every bench/*.bench.ts (or those named: `npm run bench -- engine`) in
// turn, each in its own process; each prints its table and writes bench/results/<name>.json.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
const chosen = wanted.length ? all.filter((f) => wanted.includes(f.replace(/\.bench\.ts$/, ""))) : all;
if (wanted.length && chosen.length !== wanted.length) {
  console.error(
    `unknown benchmark in ${wanted.join(", ")}; available: ${all.map((f) => f.replace(/\.bench\.ts$/, "")).join(", ")}`,
  );
  process.exit(2);
}
for (const f of chosen) {
  console.log(`\n## ${f.replace(/\.bench\.ts$/, "")} (${new Date().toISOString()})\n`);
  execFileSync(process.execPath, [...process.execArgv, join(here, f)], { stdio: "inherit" });
}
