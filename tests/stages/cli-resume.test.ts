// A `distill evaluate` killed while a student trains goes on from that student's checkpoint when run
// again, and reports what an uninterrupted run reports. The checkpoint mechanism itself is tested in
// student-resume.test.ts; this is the CLI's part: students/KEY.ckpt, the log line, its removal.
import { spawn } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parseReport } from "../../gpu-cluster/cli/report.ts";
import { distill, ok, tinyOptions, tsx, without, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "cli-resume");
const data = join(root, "quadrants");

/** Options of a run in `out` whose students train for 300 epochs (a few seconds each, many epoch ends). */
const options = (out: string) => [...without(tinyOptions(data, out), "--epochs"), "--epochs", "300"];

const ckpts = (out: string) => readdirSync(join(out, "students")).filter((f) => f.endsWith(".ckpt"));

/** Starts `distill evaluate` in `out`, saving at every epoch end, and kills it once a checkpoint is on disk. */
async function killedAtFirstCheckpoint(out: string): Promise<void> {
  const child = spawn(tsx, ["gpu-cluster/cli/distill.ts", "evaluate", ...options(out), "--checkpoint-seconds", "0"], {
    stdio: "ignore",
    detached: true, // its own process group: tsx runs the CLI in a child node, which must die too
  });
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    let found = false;
    try {
      found = ckpts(out).length > 0;
    } catch {
      // students/ is not there yet
    }
    if (found) {
      process.kill(-child.pid!, "SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(await exited, "the run ended before any student saved a checkpoint").toBeNull();
}

it("a killed evaluate goes on from the student's checkpoint and reports what an uninterrupted one does", async () => {
  rmSync(root, { recursive: true, force: true });
  writeQuadrants(data);
  const killed = join(root, "killed");
  for (const stage of ["squeeze", "recover", "relabel"]) ok(distill([stage, ...options(killed)]));
  const whole = join(root, "whole");
  cpSync(killed, whole, { recursive: true });
  ok(distill(["evaluate", ...options(whole)]));

  await killedAtFirstCheckpoint(killed);
  const [ckpt] = ckpts(killed);
  expect(ckpt).toMatch(/^[0-9a-f]{32}\.ckpt$/);
  const resumed = ok(distill(["evaluate", ...options(killed)]));
  expect(resumed).toMatch(new RegExp(`: going on from its checkpoint \\(.*students/${ckpt}\\)`));
  expect(ckpts(killed)).toEqual([]); // the checkpoint is gone once its student has finished

  const report = (out: string) => parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8"))).students;
  expect(report(killed)).toEqual(report(whole));
}, 600_000);
