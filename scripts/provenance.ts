// Provenance for results pages: the command a person typed and the machine it ran on.
import { cpus } from "node:os";

/** "2 × AMD EPYC, Node v20.20.2": the cores and CPU model the figures were measured on. */
export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}`;
}

// The command a person typed to produce a results page, for its "produced by" line: the npm
// script's name and the user's own arguments, without the flags the npm script itself adds
// (results:fashion-mnist puts `--data …` before them).
export function typedCommand(
  argv: readonly string[],
  env: { npm_lifecycle_event?: string; npm_lifecycle_script?: string },
  fallback: string,
): string {
  // `npx tsx script.ts …` runs as npm's "npx" event (its script: that line): name the npm script that runs the same
  const npx = env.npm_lifecycle_event === "npx";
  const scriptTokens = (npx ? "" : (env.npm_lifecycle_script ?? "")).split(/\s+/).filter(Boolean);
  const file = scriptTokens.findIndex((t) => /\.[cm]?[jt]s$/.test(t));
  const scriptFlags = file < 0 ? [] : scriptTokens.slice(file + 1);
  const user = argv.slice(2);
  const typed = scriptFlags.every((t, i) => user[i] === t) ? user.slice(scriptFlags.length) : user;
  return [`npm run ${(npx ? undefined : env.npm_lifecycle_event) ?? fallback} --`, ...typed]
    .join(" ")
    .replace(/ --$/, "");
}
