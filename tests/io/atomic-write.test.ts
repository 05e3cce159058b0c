// Atomic writes: a folder (a run's images/) is replaced whole or not at all, and a failed fill
// leaves no temporary folder behind.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, expect, it } from "vitest";
import { writeFolderAtomic } from "../../gpu-cluster/io/atomic-write.ts";

const root = join(process.cwd(), "test-output", "atomic-write");
const dir = join(root, "images");

beforeEach(() => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "old.txt"), "old");
});

it("replaces the folder with exactly what fill wrote (no file of the old one is left)", () => {
  writeFolderAtomic(dir, (tmp) => {
    expect(readdirSync(dir)).toEqual(["old.txt"]); // readers still see the old folder while fill runs
    writeFileSync(join(tmp, "new.txt"), "new");
  });
  expect(readdirSync(dir)).toEqual(["new.txt"]);
  expect(readFileSync(join(dir, "new.txt"), "utf8")).toBe("new");
  expect(readdirSync(root)).toEqual(["images"]);
});

it("a fill that fails leaves the old folder as it was and no temporary folder", () => {
  expect(() =>
    writeFolderAtomic(dir, (tmp) => {
      writeFileSync(join(tmp, "half.txt"), "half");
      throw new Error("disk full");
    }),
  ).toThrow("disk full");
  expect(readdirSync(dir)).toEqual(["old.txt"]);
  expect(readdirSync(root)).toEqual(["images"]);
});

it("creates a folder that was not there, parents included", () => {
  const fresh = join(root, "a", "b");
  writeFolderAtomic(fresh, (tmp) => writeFileSync(join(tmp, "x"), "1"));
  expect(readdirSync(fresh)).toEqual(["x"]);
});

it("a rename into place that fails puts the old folder back", () => {
  // the temporary folder vanishes before its rename (another process, a full disk's cleanup)
  expect(() => writeFolderAtomic(dir, (tmp) => rmSync(tmp, { recursive: true }))).toThrow(/ENOENT/);
  expect(readdirSync(dir)).toEqual(["old.txt"]);
  expect(readdirSync(root)).toEqual(["images"]);
});
