// Sharded runs reproduce the single-process run: recover shards (ranges of recover batches) and
// relabel shards (epoch ranges), run in any order, merged, give images.npy, images/, grid.png,
// recover.json and labels.dlt byte for byte as `distill recover` + `distill relabel`; manifest.json
// differs only in createdAt; at 4 bits per pixel images.dpk too. Shards are idempotent (a verified
// shard is skipped), a damaged shard output is refused downstream and redone by a rerun, and a shard
// whose draws the smallest class cannot give is refused before it writes (leaving no folder).
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeLabelTable, mergeLabelTableShards, decodeLabelTable } from "../../shared/label-table/index.ts";
import { recoverShardPlan, relabelShardPlan, splitEvenly } from "../../gpu-cluster/cli/cluster/shard-plan.ts";
import { shardIndex } from "../../gpu-cluster/cli/cluster/shard-commands.ts";
import { distill, ok, tinyOptions, without, writeQuadrants } from "./tiny-run.ts";

const root = join(process.cwd(), "test-output", "cluster-shards");
const data = join(root, "data");
const single = join(root, "single");
const sharded = join(root, "sharded");
const plan = ["--recover-shards", "4", "--relabel-shards", "3"];

describe("distill shard", () => {
  beforeAll(() => {
    rmSync(root, { recursive: true, force: true });
    writeQuadrants(data);
    for (const stage of ["squeeze", "recover", "relabel"]) ok(distill([stage, ...tinyOptions(data, single)]));
  });

  it("merged shards equal the single-process run byte for byte; reruns skip; damage is refused and redone", () => {
    const o = tinyOptions(data, sharded);
    ok(distill(["squeeze", ...o, "--teacher", join(single, "teacher.onnx")]));
    for (const i of [3, 1, 0, 2]) ok(distill(["shard", "recover", ...o, ...plan, "--index", String(i)]));
    // relabel shards as Slurm array tasks: the index comes from SLURM_ARRAY_TASK_ID
    for (const j of [2, 0, 1]) ok(distill(["shard", "relabel", ...o, ...plan], { SLURM_ARRAY_TASK_ID: String(j) }));

    // a rerun of a finished shard writes nothing
    const dlt = join(sharded, "shards", "relabel-0001.dlt");
    const before = statSync(dlt).mtimeMs;
    ok(distill(["shard", "relabel", ...o, ...plan, "--index", "1"]));
    expect(statSync(dlt).mtimeMs).toBe(before);

    // a damaged recover shard is refused by the next stage, and its rerun redoes it
    const npy = join(sharded, "shards", "recover-0002.npy");
    const good = readFileSync(npy);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 0xff;
    writeFileSync(npy, bad);
    const refused = distill(["shard", "merge", ...o, ...plan]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/recover shard 2 has no verified output.*distill shard recover --index 2/);
    ok(distill(["shard", "recover", ...o, ...plan, "--index", "2"]));
    expect(readFileSync(npy).equals(good)).toBe(true);

    ok(distill(["shard", "merge", ...o, ...plan]));
    for (const f of ["images.npy", "grid.png", "recover.json", "labels.dlt"])
      expect(readFileSync(join(sharded, f)).equals(readFileSync(join(single, f))), f).toBe(true);
    const pngs = readdirSync(join(single, "images"));
    expect(pngs.length).toBe(16);
    expect(readdirSync(join(sharded, "images"))).toEqual(pngs);
    for (const f of pngs)
      expect(readFileSync(join(sharded, "images", f)).equals(readFileSync(join(single, "images", f))), f).toBe(true);
    const m1 = JSON.parse(readFileSync(join(single, "manifest.json"), "utf8"));
    const m2 = JSON.parse(readFileSync(join(sharded, "manifest.json"), "utf8"));
    expect({ ...m2, createdAt: "" }).toEqual({ ...m1, createdAt: "" });
    // each table shard holds its epoch range of the 6 epochs
    const ranges = [0, 1, 2].map((j) => {
      const h = decodeLabelTable(new Uint8Array(readFileSync(join(sharded, "shards", `relabel-000${j}.dlt`)))).header;
      return [h.epochStart, h.epochCount];
    });
    expect(ranges).toEqual([
      [0, 2],
      [2, 2],
      [4, 2],
    ]);

    // a shard whose run draws more real images than the smallest class holds is refused before it writes
    const small = join(root, "small-class");
    const smallArgs = without(without(o, "--ipc"), "--image-bits").map((a) => (a === sharded ? small : a));
    const refusedShard = distill([
      "shard",
      "recover",
      ...smallArgs,
      ...plan,
      "--index",
      "0",
      "--ipc",
      "13",
      "--image-bits",
      "4",
    ]);
    expect(refusedShard.status).not.toBe(0);
    expect(refusedShard.stderr).toContain(
      "the smallest class has 19 training images, and the run draws 26 real images per class (--ipc 13 × 8 / --image-bits 4): lower --ipc or raise --image-bits",
    );
    expect(existsSync(small)).toBe(false); // not even an empty run folder
  });

  it("packed images: 4-bit shards equal the single-process 4-bit run byte for byte, images.dpk included", () => {
    const single4 = join(root, "single4");
    const sharded4 = join(root, "sharded4");
    const teacher = ["--teacher", join(single, "teacher.onnx")];
    for (const stage of ["recover", "relabel"])
      ok(distill([stage, ...tinyOptions(data, single4, "tiny0", undefined, "4"), ...teacher]));
    const o = tinyOptions(data, sharded4, "tiny0", undefined, "4");
    ok(distill(["squeeze", ...o, ...teacher]));
    // 32 images (twice --ipc 4 per class) in 8 recover batches; 3 labelled epochs (as many crops as (b)'s 6 × 16)
    for (const i of [2, 0, 3, 1]) ok(distill(["shard", "recover", ...o, ...plan, "--index", String(i)]));
    for (const j of [1, 2, 0]) ok(distill(["shard", "relabel", ...o, ...plan, "--index", String(j)]));
    ok(distill(["shard", "merge", ...o, ...plan]));
    for (const f of ["images.npy", "images.dpk", "grid.png", "recover.json", "labels.dlt"])
      expect(readFileSync(join(sharded4, f)).equals(readFileSync(join(single4, f))), f).toBe(true);
    expect(readdirSync(join(sharded4, "images")).length).toBe(32);
    const m1 = JSON.parse(readFileSync(join(single4, "manifest.json"), "utf8"));
    const m2 = JSON.parse(readFileSync(join(sharded4, "manifest.json"), "utf8"));
    expect({ ...m2, createdAt: "" }).toEqual({ ...m1, createdAt: "" });
    expect([m1.ipc, m1.images, m1.relabel.epochs]).toEqual([8, 32, 3]);
    // a fourth relabel shard has no epoch of its own
    const four = distill(["shard", "relabel", ...o, "--recover-shards", "4", "--relabel-shards", "4", "--index", "0"]);
    expect(four.stderr).toMatch(/4 shards for 3 units of work; use at most 3 shards/);
  });

  it("auto decides the depth in each shard as distill run does; --select random with a gate keeps 8 bits", () => {
    const o = without(tinyOptions(data, join(root, "auto"), "tiny0", []), "--image-bits").filter(
      (a) => a !== "--quiet",
    );
    const teacher = ["--teacher", join(single, "teacher.onnx")];
    ok(distill(["squeeze", ...o, ...teacher]));
    const auto = ok(distill(["shard", "recover", ...o, ...plan, "--index", "0"]));
    const choice = auto.match(/image bits: the teacher on [0-9]+ held-out training images: .*; ([48]) bits per pixel/);
    expect(choice, auto).not.toBeNull();
    // shard 0 of 4: one recover batch of 4 images at 8 bits, two at 4 (twice the images)
    expect(auto).toContain(
      `recover shard 0: batches 0..${choice![1] === "4" ? 1 : 0}, ${choice![1] === "4" ? 8 : 4} images`,
    );
    const random = ok(distill(["shard", "recover", ...o, "--select", "random", ...plan, "--index", "0"]));
    expect(random).toContain("image bits: 8 per pixel (--image-bits auto): --select random in a cluster run");
    expect(random).toContain("recover shard 0: batches 0..0, 4 images");
  });

  it("refuses a shard index outside the plan and a plan with more shards than work", () => {
    const o = tinyOptions(data, sharded);
    const r = distill(["shard", "recover", ...o, ...plan, "--index", "4"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/recover shard 4 does not exist: the plan has 4/);
    const r2 = distill(["shard", "relabel", ...o, "--recover-shards", "4", "--relabel-shards", "7", "--index", "0"]);
    expect(r2.stderr).toMatch(/7 shards for 6 units of work; use at most 6 shards/);
    expect(() => shardIndex({}, {})).toThrow(/pass --index N, or run as a Slurm array task/);
    expect(shardIndex({}, { JOB_COMPLETION_INDEX: "5" })).toBe(5);
  });
});

describe("shard plan", () => {
  it("splits evenly, contiguously and completely (random sizes)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 64 }), (n, parts) => {
        fc.pre(parts <= n);
        const r = splitEvenly(n, parts, "x");
        expect(r[0].start).toBe(0);
        expect(r.at(-1)!.end).toBe(n);
        for (let i = 1; i < r.length; i++) expect(r[i].start).toBe(r[i - 1].end);
        const sizes = r.map((x) => x.end - x.start);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it("gives every synthetic image to exactly one recover shard (ImageNet-1K IPC 50, 100-image batches)", () => {
    const recover = recoverShardPlan({ classes: 1000, ipc: 50, recoverBatch: 100 }, 64);
    const all = recover.flatMap((s) => s.images).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50_000 }, (_, i) => i));
    expect(relabelShardPlan(300, 30).map((r) => r.end - r.start)).toEqual(Array(30).fill(10));
  });
});

describe("mergeLabelTableShards", () => {
  const fields = { classes: 5, images: 3, epochs: 4, cropsPerImage: 1, k: 2, quant: 1, seed: 7, runId: "m" };
  const probs = (e: number) => Float32Array.from({ length: 15 }, (_, i) => ((i + e) % 5 === 0 ? 0.6 : 0.1));
  const shard = (start: number, count: number, over: object = {}) =>
    encodeLabelTable(
      { ...fields, epochStart: start, epochCount: count, ...over },
      Array.from({ length: count }, (_, i) => probs(start + i)),
    );

  it("equals the table written in one piece, in any shard order", () => {
    const whole = encodeLabelTable(fields, [0, 1, 2, 3].map(probs));
    expect(Buffer.from(mergeLabelTableShards([shard(3, 1), shard(0, 2), shard(2, 1)])).equals(whole)).toBe(true);
  });

  it("refuses gaps, overlaps, shards of other runs and corrupt shards", () => {
    expect(() => mergeLabelTableShards([shard(0, 2), shard(3, 1)])).toThrow(/epochs 2..2 are in no shard/);
    expect(() => mergeLabelTableShards([shard(0, 2), shard(1, 3)])).toThrow(/epoch 1 is in two shards/);
    expect(() => mergeLabelTableShards([shard(0, 2)])).toThrow(/epochs 2..3 are in no shard/);
    expect(() => mergeLabelTableShards([shard(0, 2), shard(2, 2, { runId: "other" })])).toThrow(/disagree on runId/);
    const bad = shard(2, 2);
    bad[bad.length - 1] ^= 1;
    expect(() => mergeLabelTableShards([shard(0, 2), bad])).toThrow(/epoch 3 do not match their CRC/);
  });
});
