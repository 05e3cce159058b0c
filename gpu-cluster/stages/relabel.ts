// Relabel (SRe2L §3.3, FKD style): for every epoch a student will train, the crop schedule fixes
// each image's random-resized crop, flip and mix partner; the teacher labels exactly that crop.
// Soft labels are softmax(logits / T), kept as top-k quantised records in a label table
// (shared/label-table): random access by (epoch, batch), a fraction of fp32 labels' size.
import { batchOrder, cropFor, type CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import { LabelTableWriter } from "../../shared/label-table/index.ts";
import type { ChannelStats } from "../data/index.ts";
import { Classifier } from "../runtime/inference.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { noProgress, type StartProgress } from "./progress.ts";
import { cropBatch, type ImageSet } from "./crops.ts";
import { softmaxRows } from "./softmax.ts";

export interface RelabelConfig {
  epochs: number;
  k: number;
  quant: "u8" | "f16";
  /** Soft labels are the teacher's softmax at this temperature; students use the same T. */
  temperature: number;
  schedule: CropScheduleParams;
  runId: string;
  /** Crops per teacher run. */
  batch: number;
  /** Only epochs [epochStart, epochStart + epochCount) (a label-table shard); default: all. */
  epochStart?: number;
  epochCount?: number;
}

export interface RelabelResult {
  table: Uint8Array;
  /** What the same labels would take as full fp32 vectors. */
  fp32Bytes: number;
}

export async function relabel(
  teacher: Uint8Array,
  stats: ChannelStats,
  set: ImageSet,
  classes: number,
  cfg: RelabelConfig,
  o: CompileOptions & { progress?: StartProgress; label?: string } = {},
): Promise<RelabelResult> {
  const clf = await Classifier.fromOnnx(teacher, o);
  const S = cfg.schedule.outputSize;
  const N = set.count;
  const first = cfg.epochStart ?? 0;
  const count = cfg.epochCount ?? cfg.epochs - first;
  const writer = new LabelTableWriter({
    classes,
    images: N,
    epochs: cfg.epochs,
    epochStart: first,
    epochCount: count,
    cropsPerImage: 1,
    k: Math.min(cfg.k, classes),
    quant: cfg.quant === "u8" ? 1 : 2,
    seed: cfg.schedule.seed,
    runId: cfg.runId,
    hasBox: true,
  });
  const bar = (o.progress ?? noProgress)(o.label ?? "relabel", count * N, "crop");
  for (let e = first; e < first + count; e++) {
    const order = batchOrder(cfg.schedule.seed, e, N);
    const probs = new Float32Array(N * classes);
    for (let s0 = 0; s0 < N; s0 += cfg.batch) {
      const slots = Array.from({ length: Math.min(cfg.batch, N - s0) }, (_, j) => s0 + j);
      const x = {
        dtype: "float32" as const,
        shape: [slots.length, set.channels, S, S],
        data: cropBatch(cfg.schedule, e, slots, set, stats),
      };
      softmaxRows(await clf.logits(x), slots.length, classes, cfg.temperature, probs, s0 * classes);
      bar.update((e - first) * N + s0 + slots.length, `epoch ${e + 1}/${cfg.epochs}`);
    }
    writer.addEpoch(
      e,
      probs,
      Array.from(order, (img) => cropFor(cfg.schedule, e, img)),
    );
  }
  await clf.release();
  bar.stop();
  return { table: writer.finish(), fp32Bytes: count * N * classes * 4 };
}
