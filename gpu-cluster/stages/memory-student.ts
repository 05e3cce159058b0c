// A student trained from scratch on a continual-learning memory: the blocks of images that
// arrived at each step so far, each with the soft labels its step's teacher gave it (or hard
// labels). A block keeps its own crop schedule and label table from the step it arrived in, so
// its labels stay those of exactly the crops trained on at every later step; a block labelled
// when fewer classes were known has zero probability on the classes that came after (or, with
// relabelMemory, every block is relabelled by the current step's teacher).
import { tensor } from "../graph/builder.ts";
import { adamw } from "../autodiff/optimizers.ts";
import {
  batchOrder,
  cropFor,
  cropResize,
  inverseOrder,
  type CropScheduleParams,
} from "../../shared/crop-schedule/index.ts";
import { decodeLabelTable, type LabelTable } from "../../shared/label-table/index.ts";
import type { ChannelStats, Dataset } from "../data/index.ts";
import { ParamStore } from "../models/params.ts";
import type { CompileOptions } from "../runtime/program.ts";
import type { StartProgress } from "./progress.ts";
import { imageOf, type ImageSet } from "./crops.ts";
import type { StudentConfig } from "./evaluate.ts";
import { trainClassifier, type TrainingBatch } from "./train-classifier.ts";
import { relabel, type RelabelConfig } from "./relabel.ts";

export interface MemoryBlock {
  set: ImageSet;
  /** Class of each image in the student's class space (seen-class position). */
  labels: ArrayLike<number>;
  /** The block's crops: image j at epoch e is cropFor(schedule, e, j). No mixing (labels are per image). */
  schedule: CropScheduleParams;
  /** Soft labels of those crops (relabel's label table over this block alone, with `schedule`). */
  table?: Uint8Array;
}

export type MemoryLabels = { kind: "soft"; temperature: number } | { kind: "hard" };

/** Block and index within it of every memory image, in memory order (blocks in arrival order). */
function locate(blocks: MemoryBlock[]): { block: Int32Array; local: Int32Array } {
  const n = blocks.reduce((a, b) => a + b.set.count, 0);
  const block = new Int32Array(n);
  const local = new Int32Array(n);
  let i = 0;
  blocks.forEach((b, bi) => {
    for (let j = 0; j < b.set.count; j++, i++) {
      block[i] = bi;
      local[i] = j;
    }
  });
  return { block, local };
}

function checkTable(b: MemoryBlock, t: LabelTable, bi: number, epochs: number, classes: number): void {
  const h = t.header;
  if (h.images !== b.set.count || h.epochs < epochs || h.classes > classes || h.seed !== b.schedule.seed)
    throw new Error(
      `memory block ${bi + 1}: label table (images ${h.images}, epochs ${h.epochs}, classes ${h.classes}, seed ${h.seed}) does not fit ` +
        `(images ${b.set.count}, ≥ ${epochs} epochs, ≤ ${classes} classes, seed ${b.schedule.seed}): relabel the block again`,
    );
}

/**
 * The batches of one student epoch over the memory: a seeded order over all its images; each
 * image's crop from its block's schedule, its target from its block's label table (soft: padded
 * with zeros to `classes`) or its class (hard). Normalised with `stats`.
 */
export function memoryBatches(
  blocks: MemoryBlock[],
  labels: MemoryLabels,
  classes: number,
  epochs: number,
  batch: number,
  seed: number,
  stats: ChannelStats,
): (epoch: number) => Iterable<TrainingBatch> {
  if (blocks.length === 0) throw new Error("an empty memory: nothing to train on");
  const { channels: C, size: S } = blocks[0].set;
  for (const b of blocks) {
    if (b.set.channels !== C || b.set.size !== S)
      throw new Error(`memory blocks differ in shape (${b.set.channels}×${b.set.size} vs ${C}×${S})`);
    if (b.schedule.mix.kind !== "none") throw new Error("memory blocks are labelled per image: no crop mixing");
  }
  const tables =
    labels.kind === "soft"
      ? blocks.map((b, bi) => {
          if (!b.table) throw new Error(`memory block ${bi + 1} has no soft labels`);
          const t = decodeLabelTable(b.table);
          checkTable(b, t, bi, epochs, classes);
          return t;
        })
      : [];
  const { block, local } = locate(blocks);
  const N = block.length;
  const plane = S * S;
  const per = C * plane;
  return function* (e: number) {
    const order = batchOrder(seed, e, N);
    // slot of each block image in its own table's epoch e
    const slotOf = tables.map((_, bi) => inverseOrder(batchOrder(blocks[bi].schedule.seed, e, blocks[bi].set.count)));
    for (let s0 = 0; s0 < N; s0 += batch) {
      const B = Math.min(batch, N - s0);
      const x = new Float32Array(B * per);
      const t = tensor("float32", [B, classes]);
      const td = t.data as Float32Array;
      for (let k = 0; k < B; k++) {
        const i = order[s0 + k];
        const b = blocks[block[i]];
        const j = local[i];
        const crop = cropResize(imageOf(b.set, j), C, S, S, cropFor(b.schedule, e, j), S);
        for (let c = 0; c < C; c++) {
          const m = stats.mean[c],
            inv = 1 / stats.std[c];
          for (let q = 0; q < plane; q++) x[k * per + c * plane + q] = (crop[c * plane + q] - m) * inv;
        }
        if (labels.kind === "soft") td.set(tables[block[i]].dense(e, slotOf[block[i]][j]), k * classes);
        else td[k * classes + b.labels[j]] = 1;
      }
      yield { x: tensor("float32", [B, C, S, S], x), targets: t };
    }
  };
}

export async function trainOnMemory(
  blocks: MemoryBlock[],
  labels: MemoryLabels,
  classes: number,
  epochs: number,
  cfg: StudentConfig,
  test: Dataset,
  stats: ChannelStats,
  o: CompileOptions & { progress?: StartProgress; label?: string } = {},
): Promise<{ accuracy: number; losses: number[] }> {
  const { channels, size } = blocks[0]?.set ?? { channels: 0, size: 0 };
  const images = blocks.reduce((a, b) => a + b.set.count, 0);
  return trainClassifier(
    {
      spec: { arch: cfg.arch, classes, channels, size, width: cfg.width },
      params: new ParamStore(cfg.seed),
      optimizer: adamw({ weightDecay: cfg.weightDecay }),
      loss: labels.kind === "soft" ? { kind: "kl", temperature: labels.temperature } : { kind: "cross_entropy" },
      epochs,
      stepsPerEpoch: Math.ceil(images / cfg.batch),
      lr: cfg.lr,
      lrStretch: cfg.lrStretch,
      label: o.label ?? cfg.arch,
      batches: memoryBatches(blocks, labels, classes, epochs, cfg.batch, cfg.seed, stats),
    },
    test,
    stats,
    o,
  );
}

/**
 * The memory relabelled by one teacher (a later step's, which knows every class in memory): each
 * block keeps its images and crop schedule and gets a new label table from `teacher` over
 * `classes` classes, for `epochs` epochs. The alternative to keeping each block's arrival labels.
 */
export async function relabelMemory(
  blocks: MemoryBlock[],
  teacher: Uint8Array,
  stats: ChannelStats,
  classes: number,
  cfg: Omit<RelabelConfig, "schedule" | "runId"> & { runId: string },
  o: CompileOptions & { progress?: StartProgress } = {},
): Promise<MemoryBlock[]> {
  const out: MemoryBlock[] = [];
  for (const [i, b] of blocks.entries()) {
    const runId = `${cfg.runId}-${i + 1}`.slice(0, 16);
    const r = await relabel(teacher, stats, b.set, classes, { ...cfg, schedule: b.schedule, runId }, o);
    out.push({ ...b, table: r.table });
  }
  return out;
}
