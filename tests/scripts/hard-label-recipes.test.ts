// scripts/hard-label-recipes.ts: baseline (a) under recipes of its own. At the run's own recipe its
// student is the run's (a) itself (same subset, hard labels and recipe), so it must score exactly
// what the baselines stage wrote; another recipe trains another student; the table is written.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { distill, ok, tinyOptions, tsx, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "hard-label-recipes");
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("reproduces the run's (a) at the run's recipe and tabulates the others", () => {
  rmSync(root, { recursive: true, force: true });
  const data = join(root, "quadrants");
  const run = join(root, "run");
  writeQuadrants(data);
  ok(distill(["run", ...tinyOptions(data, run), "--gate-workers", "1"])); // IPC 4, seed 3, 6 epochs, CutMix
  const a = JSON.parse(readFileSync(join(run, "baselines", "results.json"), "utf8"))["convnet-2"].random_hard;

  const results = join(root, "results");
  const student = ["--students", "convnet-2", "--student-width", "8", "--student-batch", "4", "--threads", "1"];
  const r = spawnSync(
    tsx,
    [
      "scripts/hard-label-recipes.ts",
      ...["--teacher", join(run, "teacher.onnx"), "--data", data, "--ipc", "4", "--seeds", "3"],
      ...["--epochs", "6,2", "--mix", "cutmix", "--out", join(root, "sweep"), "--results", results, "--name", "t"],
      "--",
      ...student,
    ],
    { encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  const table = JSON.parse(readFileSync(join(results, "t.json"), "utf8"));
  expect(table.rows.map((row: { epochs: number; mix: string }) => [row.epochs, row.mix])).toEqual([
    [6, "cutmix"],
    [2, "cutmix"],
  ]);
  expect(table.rows[0].top1).toEqual([a]); // the run's (a), to the last digit
  expect(table.rows[1].top1[0]).toBeGreaterThanOrEqual(0);
  expect(table.rows[1].top1[0]).toBeLessThanOrEqual(1);
  expect(readFileSync(join(results, "t.md"), "utf8")).toMatch(/\| 4 \| 6 \| cutmix \| [\d.]+ ± 0\.00 \|/);
}, 300_000);
