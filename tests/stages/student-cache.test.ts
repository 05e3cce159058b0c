// The student cache's key: what a student was trained from (images, label records, recipe),
// never what its label table is called.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  hardLabelStudentKey,
  labelSourceKey,
  StudentCache,
  studentKey,
  type LabelSource,
  type StudentRecipe,
} from "../../gpu-cluster/cli/student-cache.ts";
import { defaultCropSchedule } from "../../shared/crop-schedule/index.ts";
import { encodeLabelTable, QUANT_U8 } from "../../shared/label-table/index.ts";
import { GraphBuilder } from "../../gpu-cluster/graph/builder.ts";
import { Random } from "../../gpu-cluster/data/index.ts";

const images = 4;
const classes = 3;
const set = { pixels: new Float32Array(images * 4).map((_, i) => (i % 7) / 7), count: images, channels: 1, size: 2 };
const probs = (seed: number) => {
  const r = new Random(seed);
  const p = new Float32Array(images * classes).map(() => r.next() + 0.01);
  for (let i = 0; i < images; i++) {
    const row = p.subarray(i * classes, (i + 1) * classes);
    const s = row.reduce((a, v) => a + v, 0);
    row.forEach((v, k) => (row[k] = v / s));
  }
  return p;
};
const table = (runId: string, seed = 1) =>
  encodeLabelTable({ classes, images, epochs: 2, cropsPerImage: 1, k: classes, quant: QUANT_U8, seed: 0, runId }, [
    probs(seed),
    probs(seed + 1),
  ]);
const recipe: StudentRecipe = {
  student: { arch: "convnet-2", width: 8, batch: 4, lr: 0.01, weightDecay: 0.01, seed: 0 },
  epochs: 2,
  labelEpochs: 2,
  temperature: 4,
  schedule: defaultCropSchedule({ seed: 0, sourceSize: 2 }),
};

const source: LabelSource = {
  teacher: new Uint8Array([1, 2, 3]),
  stats: { mean: [0.5], std: [0.25] },
  classes,
  relabel: { epochs: 2, k: classes, quant: "u8", temperature: 4, schedule: recipe.schedule, runId: "gate", batch: 500 },
};

/** A one-op graph: the cache stores any graph's bytes. */
function tinyGraph() {
  const b = new GraphBuilder("t");
  b.output(b.relu(b.input("x", "float32", [1, 2])), "y");
  return b.graph;
}

function withCache(body: (cache: StudentCache, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "student-cache-"));
  try {
    body(new StudentCache(join(dir, "students")), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("student cache", () => {
  it("keys by images, label records and recipe, not by the table's run id", () => {
    const k = studentKey(set, table("gate"), recipe);
    expect(studentKey(set, table("baseline"), recipe)).toBe(k);
    expect(studentKey(set, table("gate", 5), recipe)).not.toBe(k);
    const moved = { ...set, pixels: set.pixels.map((v, i) => (i === 3 ? v + 1e-6 : v)) };
    expect(studentKey(moved, table("gate"), recipe)).not.toBe(k);
    expect(studentKey(set, table("gate"), { ...recipe, epochs: 3 })).not.toBe(k);
    expect(studentKey(set, table("gate"), { ...recipe, student: { ...recipe.student, seed: 1 } })).not.toBe(k);
  });

  it("keys a hard-label student by what it reads: not the label budget, temperature or a hard phase", () => {
    const labels = [0, 1, 2, 0];
    const k = hardLabelStudentKey(set, labels, recipe);
    expect(hardLabelStudentKey(set, labels, { ...recipe, labelEpochs: 1 })).toBe(k);
    expect(hardLabelStudentKey(set, labels, { ...recipe, temperature: 1 })).toBe(k);
    const halved = { ...recipe.student, hardPhase: { fraction: 0.5, smoothing: 0.8 } };
    expect(hardLabelStudentKey(set, labels, { ...recipe, student: halved })).toBe(k);
    expect(hardLabelStudentKey(set, [0, 1, 2, 1], recipe)).not.toBe(k);
    expect(hardLabelStudentKey(set, labels, { ...recipe, epochs: 3 })).not.toBe(k);
    expect(hardLabelStudentKey(set, labels, { ...recipe, student: { ...recipe.student, lr: 0.02 } })).not.toBe(k);
    const shifted = { ...recipe, schedule: defaultCropSchedule({ seed: 1, sourceSize: 2 }) };
    expect(hardLabelStudentKey(set, labels, shifted)).not.toBe(k);
  });

  it("stores a student's ONNX bytes under its key and finds nothing under another", () =>
    withCache((cache) => {
      const key = studentKey(set, table("gate"), recipe);
      expect(cache.get(key)).toBeUndefined();
      cache.put(key, tinyGraph());
      expect(cache.get(key)!.length).toBeGreaterThan(0);
      expect(cache.get(studentKey(set, table("gate", 5), recipe))).toBeUndefined();
    }));

  it("keys a label source by everything relabel reads except the table's run id", () => {
    const k = labelSourceKey(set, source, recipe);
    expect(labelSourceKey(set, { ...source, relabel: { ...source.relabel, runId: "baseline" } }, recipe)).toBe(k);
    const changed: LabelSource[] = [
      { ...source, teacher: new Uint8Array([1, 2, 4]) },
      { ...source, stats: { mean: [0.5], std: [0.26] } },
      { ...source, classes: classes + 1 },
      { ...source, relabel: { ...source.relabel, epochs: 3 } },
      { ...source, relabel: { ...source.relabel, temperature: 1 } },
      { ...source, relabel: { ...source.relabel, schedule: { ...recipe.schedule, seed: 1 } } },
    ];
    for (const c of changed) expect(labelSourceKey(set, c, recipe)).not.toBe(k);
    const moved = { ...set, pixels: set.pixels.map((v, i) => (i === 0 ? v + 1e-6 : v)) };
    expect(labelSourceKey(moved, source, recipe)).not.toBe(k);
    expect(labelSourceKey(set, source, { ...recipe, epochs: 3 })).not.toBe(k);
  });

  it("finds a student by its label source while the student itself is still there", () =>
    withCache((cache, dir) => {
      const key = studentKey(set, table("gate"), recipe);
      const from = labelSourceKey(set, source, recipe);
      expect(cache.bySource(from)).toBeUndefined();
      const onnx = cache.put(key, tinyGraph());
      cache.recordSource(from, key);
      const found = cache.bySource(from)!;
      expect(found.key).toBe(key);
      expect(Buffer.from(found.onnx).equals(Buffer.from(onnx))).toBe(true);
      rmSync(join(dir, "students", `${key}.onnx`));
      expect(cache.bySource(from)).toBeUndefined();
    }));
});
