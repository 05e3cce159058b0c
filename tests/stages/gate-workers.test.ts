// --gate-workers: helper processes train the random draws' students while recover runs, and the
// gate's process finds them in the student cache. The gate must decide exactly as one process does:
// the same students (content-hashed keys), the same scores, the same kept set.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { distill, ok, tinyOptions, writeQuadrants } from "../cluster/tiny-run.ts";
import { GateHelpers, gateWorkers, HARD_BASELINE } from "../../gpu-cluster/cli/gate-helpers.ts";
import type { CliOptions } from "../../gpu-cluster/cli/options.ts";

const root = join(process.cwd(), "test-output", "gate-workers");
const data = join(root, "quadrants");
const gate = ["--gate-draws", "3"];

/** The run's students: file name → SHA-256 of the ONNX bytes. */
const students = (out: string) =>
  Object.fromEntries(
    readdirSync(join(out, "students"))
      .filter((f) => f.endsWith(".onnx"))
      .map((f) => [
        f,
        createHash("sha256")
          .update(readFileSync(join(out, "students", f)))
          .digest("hex"),
      ]),
  );
const gateRecord = (out: string) => JSON.parse(readFileSync(join(out, "recover.json"), "utf8")).gate;

it("helper processes train the gate's draws, and the gate decides as one process does", async () => {
  rmSync(root, { recursive: true, force: true });
  writeQuadrants(data);
  const one = join(root, "one");
  ok(distill(["squeeze", ...tinyOptions(data, one, "tiny0", gate)]));
  const three = join(root, "three");
  cpSync(one, three, { recursive: true });

  ok(distill(["recover", ...tinyOptions(data, one, "tiny0", gate), "--gate-workers", "1"]));
  const log = ok(distill(["recover", ...tinyOptions(data, three, "tiny0", gate), "--gate-workers", "3"]));

  // each student is trained once, by a helper (the draws only) or by the gate's process (which
  // takes the start, the recovered images and any draw no helper has started), and then found
  const trainers = (set: string) =>
    [
      `a helper process trains the student of the ${set} images`,
      `this process trains the student of the ${set} images`,
    ].map((line) => log.split(line).length - 1);
  for (const draw of ["random", "draw-2", "draw-3"]) {
    const [helper, here] = trainers(draw);
    expect(helper + here).toBe(1);
    if (helper) {
      expect(log).toContain(`the helper finished the student of the ${draw} images`);
      expect(existsSync(join(three, "gate", `${draw}.log`))).toBe(true);
    }
  }
  expect(log).toContain("a helper process trains the student of the random images"); // the first draw: always a helper's
  for (const set of ["start", "recovered"]) expect(trainers(set)).toEqual([0, 1]);
  for (const set of ["random", "draw-2", "draw-3", "start", "recovered"])
    expect(log).toMatch(new RegExp(`student \\d/5, the ${set} images: trained before`));

  // the same students, bit for bit (one intra-op thread each), the same scores and decision
  expect(students(three)).toEqual(students(one));
  expect(Object.keys(students(one))).toHaveLength(5);
  const [a, b] = [gateRecord(one), gateRecord(three)];
  expect(b.scores).toEqual(a.scores);
  expect(b.kept).toEqual(a.kept);
  expect(b.students).toEqual(a.students);

  // a helper asked for a draw the gate does not have says which it has
  const bad = distill(["gate-student", "--options", join(three, "gate", "options.json"), "--candidate", "draw-9"]);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toContain(
    "the recover gate has no candidate named draw-9 that this task can train (those it can: random, draw-2, draw-3)",
  );
}, 600_000);

it("stopped (recover failed), the helpers are killed and no further draw is started; done() names the killed one's log", async () => {
  const dir = join(root, "stopped");
  rmSync(dir, { recursive: true, force: true });
  const lines: string[] = [];
  const shares: number[] = [];
  const h = new GateHelpers(
    { quiet: true } as CliOptions,
    dir,
    ["random", "draw-2", "draw-3"],
    1,
    (m) => lines.push(m),
    (n) => shares.push(n),
  );
  expect(shares).toEqual([2]); // the helper and the gate's process share the cores
  expect(JSON.parse(readFileSync(join(dir, "gate", "options.json"), "utf8")).gateWorkers).toBe(2);
  h.stop();
  await expect(h.done()).rejects.toThrow(
    `the helper training the student of the random images failed (exit null): see ${join(dir, "gate", "random.log")}`,
  );
  expect(lines.filter((l) => l.includes("a helper process trains"))).toHaveLength(1);
  expect(h.takeLast()).toBeUndefined();
  expect(shares.at(-1)).toBe(1); // stopped, the gate's process has every core again
}, 60_000);

it("once the draws are taken a helper trains baseline (a)'s students; the gate does not wait for them, evaluate does", async () => {
  const dir = join(root, "hard");
  rmSync(dir, { recursive: true, force: true });
  const lines: string[] = [];
  // options with no run behind them: the helper fails, and only a wait for (a) hears of it
  const h = new GateHelpers({ quiet: true, out: dir } as CliOptions, dir, [], 1, (m) => lines.push(m), undefined, [
    HARD_BASELINE,
  ]);
  expect(h.takeLast()).toBeUndefined(); // the gate's process never takes (a)
  await h.done(); // no draw to wait for
  await expect(h.finished(HARD_BASELINE)).rejects.toThrow(
    `the helper training baseline (a)'s students failed (exit 1): see ${join(dir, "gate", "random-hard.log")}`,
  );
  expect(lines[0]).toContain("a helper process trains baseline (a)'s students");
  expect(h.finished("draw-2")).toBeUndefined();
}, 60_000);

it("distill run with a helper: (a), (b) and ours as in one process", () => {
  const runs = ["1", "2"].map((w) => {
    const out = join(root, `run-w${w}`);
    rmSync(out, { recursive: true, force: true });
    const log = ok(distill(["run", ...tinyOptions(data, out, "tiny0", ["--gate-draws", "2"]), "--gate-workers", w]));
    return { log, report: JSON.parse(readFileSync(join(out, "report.json"), "utf8")) };
  });
  expect(runs[1].log).toContain("the helper finished baseline (a)'s students");
  expect(runs[1].log).toMatch(/convnet-2 \(a\): trained before/);
  expect(runs[0].log).not.toContain("a helper process");
  expect(runs[1].report.students).toEqual(runs[0].report.students);
  expect(runs[1].report.gate).toEqual(runs[0].report.gate);
}, 600_000);

it("--gate-workers auto: one process per draw to train besides the gate's, no more than the cores", () => {
  for (let i = 0; i < 200; i++) {
    const [draws, cores] = [Math.floor(Math.random() * 8), 1 + Math.floor(Math.random() * 32)];
    const w = gateWorkers("auto", draws, cores);
    expect(w).toBe(Math.min(cores, draws + 1));
    expect(w >= 1 && w <= cores && w - 1 <= draws).toBe(true);
  }
  expect(gateWorkers("auto", 4, 2)).toBe(2); // MNIST IPC 1 (5 draws, the first maybe cached) on 2 cores
  expect(gateWorkers("auto", 0, 16)).toBe(1); // every draw's student cached: no helper
  expect(gateWorkers(3, 1, 2)).toBe(3); // a number is kept as given
});
