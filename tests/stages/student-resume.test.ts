// A student's training stopped after a checkpoint and started again from it ends exactly where an
// uninterrupted one does: the same losses, the same frozen weights to the bit, the same accuracy.
// What makes it hold: a student's batches depend on the epoch alone (crop schedule, CutMix pairs,
// label epochs), and the checkpoint holds the whole program state (weights, AdamW moments, BN
// statistics) and the step the cosine schedule and the optimiser count from.
import { describe, expect, it } from "vitest";
import { Random, type Dataset } from "../../gpu-cluster/data/index.ts";
import { serializeModel } from "../../gpu-cluster/graph/onnx-serialize.ts";
import { trainStudent, type StudentLabels } from "../../gpu-cluster/stages/evaluate.ts";
import type { CheckpointStore } from "../../gpu-cluster/stages/train-classifier.ts";
import type { ImageSet } from "../../gpu-cluster/stages/crops.ts";
import { defaultCropSchedule } from "../../shared/crop-schedule/index.ts";

const classes = 3;
const perClass = 6;

/** Random 12×12 images, class-major, with a class-dependent bright row so that there is something to learn. */
function images(seed: number, n: number): { set: ImageSet; data: Dataset } {
  const rng = new Random(seed);
  const pixels = Float32Array.from({ length: n * 144 }, () => rng.next());
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor((i * classes) / n));
  labels.forEach((c, i) => pixels.fill(1, i * 144 + c * 48, i * 144 + c * 48 + 12));
  const data: Dataset = {
    images: pixels,
    labels,
    classes: ["a", "b", "c"],
    channels: 1,
    height: 12,
    width: 12,
    name: "rows",
  };
  return { set: { pixels, count: n, channels: 1, size: 12 }, data };
}

const { set, data } = images(1, classes * perClass);
const { data: val } = images(2, 30);
const schedule = defaultCropSchedule({
  seed: 4,
  sourceSize: 12,
  outputSize: 12,
  scale: [0.5, 1],
  flipProb: 0.5,
  mix: { kind: "cutmix", alpha: 1, prob: 1 },
});
const labels: StudentLabels = { kind: "hard", labels: data.labels };
const student = { arch: "convnet-2", width: 4, batch: 4, lr: 0.01, weightDecay: 0.01, seed: 3 };
const EPOCHS = 7; // 5 steps each (18 images, batch 4)

const run = (checkpoints?: CheckpointStore) =>
  trainStudent(
    set,
    labels,
    schedule,
    EPOCHS,
    classes,
    student,
    val,
    { mean: [0.5], std: [0.3] },
    {
      threads: 1,
      checkpoints,
    },
  );

/** A store in memory that saves after every epoch; `stopAt`: the save after which the training is stopped. */
function memoryStore(stopAt = Infinity, identity: Record<string, unknown> = { student: "s" }) {
  const saved: Uint8Array[] = [];
  const store: CheckpointStore = {
    name: "the memory store",
    identity,
    everySeconds: 0,
    read: () => saved.at(-1),
    save: (bytes) => {
      saved.push(bytes);
      if (saved.length === stopAt) throw new Error(`stopped after save ${stopAt}`);
    },
  };
  return { store, saved };
}

describe("a student's checkpoints", () => {
  it("stopped after epoch k and resumed, for every k: the same losses, weights (bit for bit) and accuracy", async () => {
    const straight = await run();
    const bytes = Buffer.from(serializeModel(straight.graph));
    for (const k of [1, 3, EPOCHS - 1]) {
      const { store, saved } = memoryStore(k);
      await expect(run(store)).rejects.toThrow(`stopped after save ${k}`);
      expect(saved).toHaveLength(k);
      const resumed = await run({ ...store, save: (b) => saved.push(b) });
      expect(resumed.losses, `stopped after epoch ${k}`).toEqual(straight.losses);
      expect(Buffer.from(serializeModel(resumed.graph)).equals(bytes), `weights after a stop at epoch ${k}`).toBe(true);
      expect(resumed.accuracy).toBe(straight.accuracy);
    }
    // the losses fell: the comparison is of a training that learned, not of one that stood still
    expect(straight.losses.at(-1)!).toBeLessThan(straight.losses[0]);
  });

  it("saves at epoch ends only as often as asked, never after the last epoch", async () => {
    const { store, saved } = memoryStore();
    await run(store);
    expect(saved).toHaveLength(EPOCHS - 1);
    const rare = memoryStore();
    await run({ ...rare.store, everySeconds: 3600 });
    expect(rare.saved).toHaveLength(0);
  });

  it("refuses a checkpoint of another training, naming what differs", async () => {
    const { store, saved } = memoryStore(2);
    await expect(run(store)).rejects.toThrow("stopped after save 2");
    const other = { ...store, identity: { student: "t" }, read: () => saved.at(-1) };
    await expect(run(other)).rejects.toThrow(/^the memory store: .*another training \(student: "s" there, "t" now\)/);
  });
});
