// scripts/quantised-copy.ts: the training images at `bits` bits (each pixel within half a level of
// where it was), labels and test images as they were.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { loadDataset } from "../../gpu-cluster/data/index.ts";
import { writeIdxFolder } from "../data/idx-fixture.ts";

const root = join(process.cwd(), "test-output", "quantised-copy");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
beforeEach(() => rmSync(root, { recursive: true, force: true }));

describe("quantised copy of an IDX dataset", () => {
  it.each([1, 2, 4])("at %i bits: 2^bits levels, each pixel within half a level; the rest untouched", (bits) => {
    const src = join(root, "src");
    mkdirSync(src, { recursive: true });
    writeIdxFolder(src, 40, 10, 6, 7, 4, true); // pixels run through all of 0..255
    const out = join(root, `q${bits}`);
    const p = spawnSync(tsx, ["scripts/quantised-copy.ts", "--data", src, "--bits", String(bits), "--out", out], {
      encoding: "utf8",
    });
    expect(p.status, p.stderr).toBe(0);
    const a = loadDataset(src, { seed: 0 });
    const b = loadDataset(out, { seed: 0 });
    const levels = (1 << bits) - 1;
    const before = a.train.images as Uint8Array;
    const after = b.train.images as Uint8Array;
    expect(new Set(after).size).toBe(levels + 1);
    for (let i = 0; i < before.length; i++)
      expect(Math.abs(after[i] - before[i])).toBeLessThanOrEqual(255 / levels / 2 + 0.5);
    expect(b.train.labels).toEqual(a.train.labels);
    expect(b.val.images).toEqual(a.val.images);
    expect(b.val.labels).toEqual(a.val.labels);
  });

  it("refuses a bit depth it cannot store and a folder without IDX files", () => {
    const run = (args: string[]) => spawnSync(tsx, ["scripts/quantised-copy.ts", ...args], { encoding: "utf8" });
    expect(run(["--data", root, "--bits", "8", "--out", join(root, "x")]).stderr).toMatch(
      /--bits 8: give a whole number from 1 to 7/,
    );
    mkdirSync(join(root, "empty"), { recursive: true });
    expect(run(["--data", join(root, "empty"), "--bits", "2", "--out", join(root, "x")]).stderr).toMatch(
      /no IDX files there/,
    );
  });
});
