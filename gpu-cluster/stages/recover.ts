// Recover (SRe2L §3.2): synthesise the images. Each batch of synthetic images starts from noise
// (the original) or from real images of its classes (successors' initialisation) and is
// optimised for a fixed number of Adam steps through the frozen teacher; each step sees one
// random-resized crop (+ flip) of the whole batch, done inside the graph (recover-step.ts).
import { tensor } from "../graph/builder.ts";
import type { TensorData } from "../graph/types.ts";
import { cosineLr } from "../autodiff/optimizers.ts";
import { Random, type ChannelStats } from "../data/index.ts";
import { imageOf, type ImageSet } from "./crops.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { oneHot } from "../training/classifier.ts";
import {
  cropFor,
  cropResizeInto,
  defaultCropSchedule,
  interpolationMatrix,
  sampledCropMatrixT,
  type CropScheduleParams,
} from "../../shared/crop-schedule/index.ts";
import { noProgress, type StartProgress } from "./progress.ts";
import { argmax } from "./accuracy.ts";
import { recoverPlan } from "./recover-plan.ts";
import { RecoverStep, type CompeteConfig, type RecoverStepConfig, type RecoverTerms } from "./recover-step.ts";
import type { TeacherSource } from "./teacher-graph.ts";

export interface RecoverConfig {
  ipc: number;
  iterations: number;
  /** Images optimised together (rounded to whole blocks of classes, see recover-plan.ts). */
  batch: number;
  lr: number;
  rBn: number;
  firstBnMultiplier: number;
  beta1: number;
  beta2: number;
  /** noise: the original; real: one real image of the class; collage: 2×2 real images of the class, each at half size. */
  init: RecoverInit;
  /** RandomResizedCrop scale range and flip probability of the per-step augmentation. */
  cropScale: [number, number];
  flipProb: number;
  /** Largest turn of the per-step crops in degrees (absent: none, separable crops; see MAX_SAMPLED_CROP). */
  rotate?: number;
  seed: number;
  /** Adaptive DeepInversion's competition term (recover-step.ts); needs TeacherInput.competitor. */
  compete?: CompeteConfig;
}

export type RecoverInit = "noise" | "real" | "collage";

/** Largest image side whose turned crops recover samples with a dense (side²)² matrix per step (64 MiB at 64 px). */
export const MAX_SAMPLED_CROP = 64;

/** Refuses turned recover crops (--recover-rotate) on images whose side is above MAX_SAMPLED_CROP. */
export function refuseTurnedCropsAbove(rotate: number, side: number): void {
  if (rotate > 0 && side > MAX_SAMPLED_CROP)
    throw new Error(
      `recover's turned crops (--recover-rotate ${rotate}) take a (${side}²)² sampling matrix per step, and they run on images up to ${MAX_SAMPLED_CROP} px: drop --recover-rotate`,
    );
}

/** Real images each synthetic image starts from: 1 for `real`, 4 for `collage`, 0 for `noise`. */
export function realImagesPerSynthetic(init: RecoverInit): number {
  return init === "collage" ? 4 : init === "real" ? 1 : 0;
}

export interface TeacherInput {
  source: TeacherSource;
  classes: number;
  channels: number;
  size: number;
  stats: ChannelStats;
  /** The frozen student of the competition term (cfg.compete), on the teacher's inputs. */
  competitor?: TeacherSource;
}

export interface RecoverResult {
  /** N × C × H × W pixels in [0, 1]; image i has class floor(i / ipc). */
  pixels: Float32Array;
  /** Per batch: loss and its terms at the first and at the last step. */
  batches: { first: RecoverTerms; last: RecoverTerms }[];
}

/**
 * Initial images of one batch in normalised space: standard normal noise (the original), the
 * given real images (successors' initialisation), or a 2×2 collage of four real images of the
 * class at half size (RDED-style: a quarter-area crop then shows the student one whole real
 * image, so one synthetic image carries four). `real` holds K × ipc × m images (m from
 * realImagesPerSynthetic) in class blocks; synthetic image c·ipc + j takes the class's images
 * j, j + ipc, …: the pipeline passes baseline (b)'s random real subset (drawn so that its first
 * ipc images per class are (b)'s), so "ours − (b)" measures what recover and the collage add.
 */
function initialImages(
  t: TeacherInput,
  images: number[],
  cfg: RecoverConfig,
  real: ImageSet | undefined,
  batchIndex: number,
): Float32Array {
  const per = t.channels * t.size * t.size;
  const out = new Float32Array(images.length * per);
  if (cfg.init === "noise") {
    const rng = new Random(cfg.seed, `recover-init-${batchIndex}`);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal();
    return out;
  }
  const m = realImagesPerSynthetic(cfg.init);
  if (!real) throw new Error(`recover --init ${cfg.init} needs real images to start from`);
  if (real.size !== t.size || real.channels !== t.channels)
    throw new Error(
      `recover --init ${cfg.init}: the data is ${real.channels}×${real.size}×${real.size}, the teacher takes ${t.channels}×${t.size}×${t.size}`,
    );
  if (real.count !== t.classes * cfg.ipc * m)
    throw new Error(`recover --init ${cfg.init}: needs ${t.classes * cfg.ipc * m} real images, got ${real.count}`);
  const S = t.size,
    plane = S * S;
  const half = [Math.floor(S / 2), S - Math.floor(S / 2)];
  images.forEach((img, b) => {
    const c = Math.floor(img / cfg.ipc),
      j = img % cfg.ipc;
    const dst = out.subarray(b * per, (b + 1) * per);
    for (let q = 0; q < m; q++) {
      const src = imageOf(real, c * cfg.ipc * m + j + q * cfg.ipc);
      // q = 0 of `real` is the image itself; collage quadrant q is rows (q >> 1), cols (q & 1)
      const h = m === 1 ? S : half[q >> 1],
        w = m === 1 ? S : half[q & 1];
      const y0 = m === 1 ? 0 : (q >> 1) * half[0],
        x0 = m === 1 ? 0 : (q & 1) * half[0];
      // the whole image resized to the quadrant (bilinear, as the per-step crops; identity for m = 1)
      const part = cropResizeInto(
        new Float64Array(t.channels * h * w),
        src,
        t.channels,
        S,
        S,
        { x: 0, y: 0, w: S, h: S, flip: false },
        h,
        w,
      );
      for (let ch = 0; ch < t.channels; ch++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++)
            dst[ch * plane + (y0 + y) * S + x0 + x] = (part[(ch * h + y) * w + x] - t.stats.mean[ch]) / t.stats.std[ch];
        }
      }
    }
  });
  return out;
}

/**
 * Runs recover over the batches of recoverPlan, or only batches [only.start, only.end) of it (a
 * cluster shard): each batch depends on nothing but its own index, so a shard's images are
 * bit-identical to the same images of a whole run. Images of other batches stay 0.
 */
export async function recover(
  t: TeacherInput,
  cfg: RecoverConfig,
  real: ImageSet | undefined,
  o: CompileOptions & { progress?: StartProgress } = {},
  only?: { start: number; end: number },
): Promise<RecoverResult> {
  const { channels: C, size: H, classes: K } = t;
  const whole = recoverPlan(K, cfg.ipc, cfg.batch);
  const start = only?.start ?? 0;
  const end = only?.end ?? whole.length;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= whole.length))
    throw new Error(`recover batches [${start}, ${end}) are not inside the plan's ${whole.length} batches`);
  const plan = whole.slice(start, end);
  refuseTurnedCropsAbove(cfg.rotate ?? 0, H);
  const per = C * H * H;
  const pixels = new Float32Array(K * cfg.ipc * per);
  const lower = t.stats.mean.map((m, c) => -m / t.stats.std[c]);
  const upper = t.stats.mean.map((m, c) => (1 - m) / t.stats.std[c]);
  const steps = new Map<number, RecoverStep>();
  const bar = (o.progress ?? noProgress)("recover", plan.length * cfg.iterations, "step");
  const result: RecoverResult = { pixels, batches: [] };
  let done = 0;
  // turned crops: one dense sampling matrix, rewritten every step
  const matrixT = cfg.rotate ? new Float32Array(H ** 4) : undefined;
  for (const [i, batch] of plan.entries()) {
    const bi = start + i;
    const B = batch.images.length;
    const stepCfg: RecoverStepConfig = {
      batch: B,
      channels: C,
      size: H,
      cropSize: H,
      classes: K,
      rBn: cfg.rBn,
      firstBnMultiplier: cfg.firstBnMultiplier,
      compete: cfg.compete,
      sampledCrop: !!cfg.rotate,
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      lower,
      upper,
    };
    const init: TensorData = tensor("float32", [B, C, H, H], initialImages(t, batch.images, cfg, real, bi));
    let step = steps.get(B);
    if (!step) {
      step = await RecoverStep.compile(t.source, stepCfg, init, o, t.competitor);
      steps.set(B, step);
    } else {
      step.reset(init);
    }
    const targets = oneHot(batch.classes, K);
    // Per-step crops come from the crop schedule: seeded by (run seed, batch), one "image" per step.
    const schedule: CropScheduleParams = defaultCropSchedule({
      seed: cfg.seed * 1000003 + bi,
      sourceSize: H,
      outputSize: H,
      scale: cfg.cropScale,
      flipProb: cfg.flipProb,
      rotate: cfg.rotate,
    });
    let first: RecoverTerms = { loss: 0, ce: 0, bn: 0 };
    let last = first;
    let correct = 0;
    for (let it = 0; it < cfg.iterations; it++) {
      const box = cropFor(schedule, it, 0);
      const lr = cosineLr(it, cfg.iterations, cfg.lr);
      const r = stepCfg.sampledCrop
        ? await step.stepSampled(sampledCropMatrixT(H, H, box, H, H, matrixT), targets, lr, stepCfg)
        : await step.step(
            interpolationMatrix(H, box.y, box.h, H, false),
            transpose(interpolationMatrix(H, box.x, box.w, H, box.flip), H, H),
            targets,
            lr,
            stepCfg,
          );
      const { logits, ...terms } = r;
      last = terms;
      if (it === 0) first = last;
      correct = batch.classes.filter((c, b) => argmax(logits, b * K, K) === c).length;
      bar.update(
        ++done,
        `batch ${bi + 1}/${whole.length} loss ${r.loss.toFixed(3)} ce ${r.ce.toFixed(3)} bn ${r.bn.toFixed(3)}` +
          (r.compete !== undefined ? ` compete ${r.compete.toFixed(3)}` : "") +
          ` acc ${correct}/${B}`,
      );
    }
    result.batches.push({ first, last });
    const x = (await step.images()).data as Float32Array;
    batch.images.forEach((img, b) => {
      for (let c = 0; c < C; c++) {
        for (let j = 0; j < H * H; j++) {
          const v = x[b * per + c * H * H + j] * t.stats.std[c] + t.stats.mean[c];
          pixels[img * per + c * H * H + j] = Math.min(1, Math.max(0, v));
        }
      }
    });
  }
  for (const s of steps.values()) await s.release();
  bar.stop();
  return result;
}

/** rows × cols matrix → its transpose. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}
