// scripts/logged-run.ts: a child's whole stderr in its log; its lines named here, its bars only as heartbeats.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { loggedRun } from "../../scripts/logged-run.ts";

const root = join(process.cwd(), "test-output", "logged-run");

// a child that writes a decision, a bar (redrawn with \r), waits, writes another decision and ends with `code`
const child = (code: number) => [
  "-e",
  `process.stderr.write("recover: 4 images\\n");
     process.stderr.write("relabel    |██░░| 1/2 5 crop/s\\r");
     setTimeout(() => { process.stderr.write("relabel    |████| 2/2 5 crop/s\\nevaluate: ours 90 %\\n"); process.exit(${code}); }, 1500);`,
];

describe("logged run", () => {
  it("keeps the whole output in the log, names each decision line, and shows the latest bar per heartbeat", async () => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const log = join(root, "a.log");
    const out = new PassThrough();
    let shown = "";
    out.on("data", (b: Buffer) => (shown += b.toString()));
    await loggedRun(process.execPath, child(0), { name: "ipc1-seed0", log, heartbeat: 0.4, out });
    expect(readFileSync(log, "utf8")).toBe(
      "recover: 4 images\nrelabel    |██░░| 1/2 5 crop/s\rrelabel    |████| 2/2 5 crop/s\nevaluate: ours 90 %\n",
    );
    const lines = shown.trim().split("\n");
    expect(lines[0]).toBe("[ipc1-seed0] recover: 4 images");
    expect(lines.at(-1)).toBe("[ipc1-seed0] evaluate: ours 90 %");
    // the bar pending for 1.5 s was shown at a heartbeat, named, and only once (no new bar came before the next one)
    expect(lines.filter((l) => l.includes("|██░░|"))).toEqual(["[ipc1-seed0] relabel    |██░░| 1/2 5 crop/s"]);
  });

  it("rejects naming the exit code and the log when the child fails", async () => {
    mkdirSync(root, { recursive: true });
    const log = join(root, "b.log");
    const run = loggedRun(process.execPath, child(3), { name: "x", log, heartbeat: 0, out: new PassThrough() });
    await expect(run).rejects.toThrow(
      new RegExp(`exit 3 \\(its log: ${log.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\)`),
    );
  });
});
