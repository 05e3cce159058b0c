// `distill inspect`: the summary's numbers are those of the TypeScript reference statistics,
// --json has the documented shape, bad input stops with exit code 1, the SPEC error code and
// the fix; --html writes the page into the run folder.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { inspectTable, resolveTarget } from "../../gpu-cluster/cli/inspect.ts";
import { writeInspectorPage } from "../../wasm-tools/node/inspector-server.ts";
import { referenceStats } from "../../wasm-tools/src/reference.ts";
import { worstClasses } from "../../wasm-tools/src/types.ts";
import type { InspectSummary } from "../../wasm-tools/src/summary.ts";
import { makeRunFolder, SMALL_RUN } from "./run-folder.ts";
import { distill } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "inspect-cli");
const run = join(root, "run");
const boxed = join(root, "boxed");

let table: Uint8Array;
beforeAll(() => {
  table = makeRunFolder(run, SMALL_RUN).table;
  makeRunFolder(boxed, {
    ...SMALL_RUN,
    hasBox: true,
    cropsPerImage: 1,
    quant: "f16",
    k: 4,
    classes: 7,
    ipc: 2,
    seed: 5,
  });
});

describe("distill inspect", () => {
  it("summary numbers equal the TypeScript reference statistics (run folder and bare table, u8 and f16 with boxes)", async () => {
    for (const dir of [run, boxed]) {
      const bytes = new Uint8Array(readFileSync(join(dir, "labels.dlt")));
      const ref = referenceStats(bytes);
      for (const target of [resolveTarget(dir), resolveTarget(join(dir, "labels.dlt"))]) {
        const s = await inspectTable(target);
        expect(s.crops).toBe(ref.crops);
        expect(s.agreement).toBe(ref.agreement);
        expect(s.meanEntropy).toBe(ref.meanEntropy);
        expect(s.meanMaxProb).toBe(ref.meanMaxProb);
        expect(s.meanTopkMass).toBe(ref.meanTopkMass);
        expect(s.histograms).toEqual({
          entropy: ref.entropyHist,
          maxProb: ref.maxProbHist,
          topkMass: ref.topkMassHist,
        });
        expect(s.classes.map((c) => c.crops)).toEqual(ref.classCrops);
        expect(s.worstClasses.map((c) => [c.cls, c.agreement])).toEqual(
          worstClasses(ref).map((c) => [c.cls, c.agreement]),
        );
        const C = ref.header.classes;
        expect(s.confusion!.flat()).toEqual(Array.from(ref.confusion!));
        expect(s.confusion!.length).toBe(C);
        expect(s.bytes).toBe(bytes.length);
        expect(s.fp32Bytes).toBe(ref.header.epochCount * ref.header.images * ref.header.cropsPerImage * C * 4);
        expect(s.run?.runId).toBe("inspect-test");
        expect(s.worstClasses[0].name).toBe(`c${s.worstClasses[0].cls}`);
      }
    }
    // the agreement is real: the fixture peaks on the target class 70 % of the time
    const s = await inspectTable(resolveTarget(run));
    expect(s.agreement).toBeGreaterThan(0.5);
    expect(s.agreement).toBeLessThan(1);
  });

  it("--json prints the documented shape; the text summary shows the same numbers", async () => {
    const r = distill(["inspect", run, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as InspectSummary;
    expect(Object.keys(j).sort()).toEqual(
      [
        "agreement",
        "bins",
        "bytes",
        "classes",
        "compression",
        "confusion",
        "crops",
        "entropyMax",
        "format",
        "fp32Bytes",
        "header",
        "histograms",
        "ipc",
        "meanEntropy",
        "meanMaxProb",
        "meanTopkMass",
        "run",
        "worstClasses",
      ].sort(),
    );
    expect(j.format).toBe(1);
    expect(j.header).toEqual({
      runId: "inspect-test",
      seed: 77,
      classes: 5,
      images: 15,
      epochs: 3,
      epochStart: 0,
      epochCount: 3,
      cropsPerImage: 2,
      k: 3,
      quant: "u8",
      recordSize: 9,
      hasBox: false,
    });
    expect(j.crops).toBe(5 * 3 * 3 * 2);
    expect(j.histograms.entropy).toHaveLength(20);
    expect(j.classes).toHaveLength(5);
    expect(j.bytes).toBe(table.length);
    expect(j).toEqual(JSON.parse(JSON.stringify(await inspectTable(resolveTarget(run)))));

    const text = distill(["inspect", run, "--bins", "10"]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(`agreement (top-1 = target class)  ${(j.agreement * 100).toFixed(2)} %`);
    expect(text.stdout).toContain(`mean entropy                      ${j.meanEntropy.toFixed(4)} nats`);
    expect(text.stdout).toMatch(/top-k\s+3, quantised u8, 9 B per record/);
    expect(text.stdout).toContain("worst classes by agreement");
  });

  it("bad input: exit code 1, the error code and the fix", () => {
    const bad = join(root, "bad");
    mkdirSync(bad, { recursive: true });
    const corrupt = new Uint8Array(table);
    corrupt[corrupt.length - 5] ^= 0x40; // a record byte: its epoch CRC no longer matches
    writeFileSync(join(bad, "corrupt.dlt"), corrupt);
    writeFileSync(join(bad, "short.dlt"), table.subarray(0, table.length - 3));
    copyFileSync(join(run, "manifest.json"), join(bad, "not-a-table.dlt"));
    for (const [file, code] of [
      ["corrupt.dlt", "EPOCH_CHECKSUM"],
      ["short.dlt", "TRUNCATED"],
      ["not-a-table.dlt", "BAD_MAGIC"],
    ]) {
      const r = distill(["inspect", join(bad, file)]);
      expect(r.status, file).toBe(1);
      expect(r.stderr).toContain(`label table ${code}:`);
      expect(r.stderr).toContain("Fix:");
      expect(r.stdout).toBe("");
    }
    const missing = distill(["inspect", join(root, "nope")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope does not exist: give a label table \(\.dlt\) or a run folder/);
  });

  it("in-process errors carry the code; a run folder without labels.dlt is named", async () => {
    const bad = join(root, "bad2");
    rmSync(bad, { recursive: true, force: true });
    mkdirSync(bad, { recursive: true });
    const corrupt = new Uint8Array(table);
    corrupt[10] ^= 1; // header byte
    writeFileSync(join(bad, "labels.dlt"), corrupt);
    await expect(inspectTable(resolveTarget(join(bad, "labels.dlt")))).rejects.toMatchObject({
      code: "HEADER_CHECKSUM",
    });
    expect(() => resolveTarget(root)).toThrow(/holds no labels.dlt: run `distill relabel/);
    writeFileSync(join(bad, "manifest.json"), "{ not json");
    expect(() => resolveTarget(bad)).toThrow(
      /the run's manifest .*manifest\.json: not JSON \(.*\): re-run `distill relabel --force`/,
    );
  });

  it("--html writes the self-contained page into <run>/inspector/", async () => {
    const dir = await writeInspectorPage(run);
    for (const f of ["index.html", "inspector.js", "label-stats.wasm"]) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toContain('<script type="module" src="inspector.js">');
    expect(readFileSync(join(dir, "label-stats.wasm")).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  });
});
