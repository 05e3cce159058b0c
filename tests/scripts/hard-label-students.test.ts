// scripts/hard-label-students.ts: every candidate set of a run trains the run's student with hard
// labels. Its random set's student is (a) itself: trained again, it must score exactly what the
// baselines stage wrote (same images, class order, mixing and recipe), and the other sets' students
// must learn the tiny task.
import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { distill, ok, tinyOptions, tsx, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "hard-label-students");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const script = (args: string[]) => spawnSync(tsx, ["scripts/hard-label-students.ts", ...args], { encoding: "utf8" });

describe("hard-label-students", () => {
  it("reproduces (a) for the random set and trains the start and the run's images alike", () => {
    rmSync(root, { recursive: true, force: true });
    const data = join(root, "quadrants");
    const run = join(root, "run");
    writeQuadrants(data);
    const o = tinyOptions(data, run);
    const missing = script(o);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no images\.npy; run `distill recover` there first/);

    ok(distill(["run", ...o]));
    const baselines = join(run, "baselines", "results.json");
    const a = JSON.parse(readFileSync(baselines, "utf8"))["convnet-2"].random_hard;
    const trusted = script(o); // the baselines stage is up to date: (a) is read, not trained
    expect(trusted.status, trusted.stderr).toBe(0);
    expect(trusted.stdout).toMatch(/random [\d.]+ % \(baselines\/results\.json\)/);
    // another student recipe: the recorded (a) no longer applies and is trained for this one
    const other = script([...o, "--student-lr", "0.002"]);
    expect(other.status, other.stderr).toBe(0);
    expect(other.stdout).not.toMatch(/baselines\/results\.json/);
    renameSync(baselines, `${baselines}.away`); // so the script trains (a)'s student again
    const r = script(o);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(join(run, "hard-label-students.json"), "utf8"));
    const s = out.results["convnet-2"];
    expect(s.random).toBe(a);
    for (const v of [s.start, s.images]) expect(v).toBeGreaterThan(0.5); // chance is 0.25
    expect(r.stdout).toMatch(/convnet-2, hard labels, val top-1: random [\d.]+ %, start [\d.]+ %, images\.npy/);
    expect(out.command).toMatch(/^hard-label-students /);
  });
});
