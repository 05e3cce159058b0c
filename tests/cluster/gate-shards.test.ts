// The recover gate in a cluster run: after the recover shards, one gate task per candidate image
// set ((b)'s random subset, a further draw, the start, the recovered images) trains that set's
// student into the run's student cache, in any order; the first relabel shard decides the gate
// from them and records it. Merged, the run equals the single-process `distill run` with its gate
// byte for byte: the kept images, recover.json with the gate's scores and decision, the table, and
// the gate's students themselves. A relabel shard before the gate tasks is refused, naming the task.
// At 4 bits per pixel: the gate weighs (b)'s 16 8-bit images against 32 4-bit ones, so the kept
// set's size, and with it the relabel shards' epochs, is known only after the decision.
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gateCandidatesOfOptions } from "../../shared/gate-candidates.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { parseClusterPlan, planStages, stageWidth } from "../../shared/cluster-plan.ts";
import { distill, ok, tinyOptions, writeQuadrants } from "./tiny-run.ts";

const root = join(process.cwd(), "test-output", "cluster-gate");
const data = join(root, "data");
const single = join(root, "single");
const sharded = join(root, "sharded");
const gate = ["--gate-draws", "2"];
const plan = ["--recover-shards", "2", "--relabel-shards", "2"];

describe("the recover gate as cluster tasks", () => {
  beforeAll(() => {
    rmSync(root, { recursive: true, force: true });
    writeQuadrants(data);
    for (const stage of ["squeeze", "recover", "relabel"])
      ok(distill([stage, ...tinyOptions(data, single, "tiny0", gate, "4")]));
  });

  it("gate tasks in any order, then relabel and merge, equal the single-process gate byte for byte", () => {
    const o = tinyOptions(data, sharded, "tiny0", gate, "4");
    ok(distill(["squeeze", ...o, "--teacher", join(single, "teacher.onnx")]));
    for (const i of [1, 0]) ok(distill(["shard", "recover", ...o, ...plan, "--index", String(i)]));

    // before the gate's students exist, relabel refuses and names the missing task
    const early = distill(["shard", "relabel", ...o, ...plan, "--index", "0"]);
    expect(early.status).not.toBe(0);
    expect(early.stderr).toMatch(/no student of the random images .*distill shard gate --index 0/);

    // random, draw-2, start, recovered: four tasks, here as Slurm array tasks in a shuffled order
    expect(distill(["shard", "gate", ...o, ...plan, "--index", "4"]).stderr).toMatch(
      /gate task 4 does not exist: the gate has 4 candidates \(random, draw-2, start, recovered/,
    );
    for (const k of [3, 1, 0, 2]) ok(distill(["shard", "gate", ...o, ...plan], { SLURM_ARRAY_TASK_ID: String(k) }));
    // a rerun of a finished task trains nothing: no student file is written again
    const studentsDir = join(sharded, "students");
    const mtimes = () => readdirSync(studentsDir).map((f) => statSync(join(studentsDir, f)).mtimeMs);
    const before = mtimes();
    expect(ok(distill(["shard", "gate", ...o, ...plan, "--index", "2"]))).not.toMatch(
      /the student of the start images is/,
    );
    expect(mtimes()).toEqual(before);

    for (const j of [1, 0]) ok(distill(["shard", "relabel", ...o, ...plan, "--index", String(j)]));
    const decision = join(sharded, "shards", "gate.json");
    const decidedAt = statSync(decision).mtimeMs;
    ok(distill(["shard", "merge", ...o, ...plan]));
    expect(statSync(decision).mtimeMs, "merge reads the recorded decision").toBe(decidedAt);

    for (const f of ["images.npy", "images.dpk", "grid.png", "recover.json", "labels.dlt"])
      expect(readFileSync(join(sharded, f)).equals(readFileSync(join(single, f))), f).toBe(true);
    const gateOf = (dir: string) => JSON.parse(readFileSync(join(dir, "recover.json"), "utf8")).gate;
    expect(Object.keys(gateOf(sharded).scores)).toEqual(["random", "draw-2", "start", "recovered"]);
    // what the gate kept decides the count and the table's epochs (as many crops as (b)'s 6 × 16)
    const packed = ["start", "recovered"].includes(gateOf(sharded).kept);
    const table = decodeLabelTable(new Uint8Array(readFileSync(join(sharded, "labels.dlt")))).header;
    expect([table.images, table.epochs]).toEqual(packed ? [32, 3] : [16, 6]);
    const students = readdirSync(join(single, "students")).filter((f) => f.endsWith(".onnx"));
    expect(students.length).toBe(4);
    for (const f of students)
      expect(readFileSync(join(sharded, "students", f)).equals(readFileSync(join(single, "students", f))), f).toBe(
        true,
      );
  });

  it("sizes the gate array from a launch's options, as the CLI decides the gate", () => {
    const p = (options: string[], ipc = 10) =>
      parseClusterPlan({ run: "r", ipc, options, recoverShards: 2, relabelShards: 3 });
    expect(planStages(p([]))).toEqual(["squeeze", "recover", "gate", "relabel", "merge"]);
    expect(stageWidth(p([]), "gate")).toBe(3);
    expect(stageWidth(p([], 1), "gate")).toBe(7); // five draws at IPC 1
    expect(stageWidth(p(["--select", "random"]), "gate")).toBe(2);
    // at fewer bits (b)'s subset and the start differ (the start holds twice the images): one more
    expect(stageWidth(p(["--select", "random", "--image-bits", "4"]), "gate")).toBe(3);
    expect(stageWidth(p(["--select", "random", "--image-bits", "auto"]), "gate")).toBe(2); // 8 bits there
    expect(stageWidth(p(["--gate-draws", "3", "--gate-keep", "best"]), "gate")).toBe(5);
    expect(planStages(p(["--no-recover-gate"]))).toEqual(["squeeze", "recover", "relabel", "merge"]);
    expect(stageWidth(p(["--init", "noise"]), "gate")).toBe(0);
    expect(() => p(["--gate-draws", "0"])).toThrow(/--gate-draws needs a value/);
    expect(() => p(["--gate-draws", "3", "--no-recover-gate"])).toThrow(
      /--gate-draws set the recover gate, which this launch turns off/,
    );
    expect(() => p(["--init", "noise", "--gate-keep", "best"])).toThrow(/--gate-keep set the recover gate/);
    expect(stageWidth(p(["--init", "noise", "--gate-keep", "significant", "--gate-draws", "1"]), "gate")).toBe(0);
    expect(gateCandidatesOfOptions(["--select", "kmeans", "--select", "random"], 2)).toEqual(["start", "recovered"]);
  });
});
