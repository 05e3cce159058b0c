// One recover iteration as one compiled ONNX program (SRe2L §3.2):
//
//   x̃ = R_y · X · R_xᵀ                    random-resized crop (+ flip) as two interpolation
//                                          matrices fed each step, shared by the whole batch,
//                                          so gradients flow through the crop to X
//   L = CE(teacher(x̃), y) + r_bn · Σ_l m_l (‖μ_l(x̃) − μ_l^run‖₂ + ‖σ²_l(x̃) − σ²_l^run‖₂)
//   X ← clip(Adam(X, ∂L/∂X))               per channel, to the range of valid pixels
//
// μ_l, σ²_l are the per-channel batch mean and biased variance of the input of BatchNorm layer
// l; m_1 = first_bn_multiplier, m_l = 1 otherwise. The teacher is frozen: only the images are
// differentiated, and the gradient walker prunes every weight branch.
import { GraphBuilder, tensor } from "../graph/builder.ts";
import type { TensorData, Value } from "../graph/types.ts";
import { gradients } from "../autodiff/gradients.ts";
import { crossEntropy, l2Norm } from "../autodiff/losses.ts";
import { adam, type OptimizerUpdate } from "../autodiff/optimizers.ts";
import { Program, type CompileOptions } from "../runtime/program.ts";
import { frozenTeacher, noBatchNormMessage, type TeacherSource } from "./teacher-graph.ts";

export interface RecoverStepConfig {
  /** Images per batch, channels, source size (square) and the teacher's input size. */
  batch: number;
  channels: number;
  size: number;
  cropSize: number;
  classes: number;
  /** Weight of the BN-statistics term (r_bn) and of the first BN layer within it. */
  rBn: number;
  firstBnMultiplier: number;
  /** Adam betas of the original: (0.5, 0.9). */
  beta1: number;
  beta2: number;
  /** Per-channel bounds of valid pixels in normalised space ((0 − mean)/std, (1 − mean)/std). */
  lower: number[];
  upper: number[];
}

export interface RecoverStepResult {
  loss: number;
  ce: number;
  bn: number;
  /** Teacher logits of this step's crops [batch, classes]. */
  logits: Float32Array;
}

export interface RecoverObjective {
  loss: Value;
  ce: Value;
  bn: Value;
  logits: Value;
  bnLayers: number;
}

/**
 * L = CE(teacher(x), y) + r_bn · Σ_l m_l (‖μ_l(x) − μ_l^run‖₂ + ‖σ²_l(x) − σ²_l^run‖₂) on the
 * teacher's input `x` (the crops), as SRe2L's forward hooks compute it.
 */
export function recoverObjective(
  b: GraphBuilder,
  teacher: TeacherSource,
  x: Value,
  targets: Value,
  cfg: Pick<RecoverStepConfig, "rBn" | "firstBnMultiplier">,
): RecoverObjective {
  const t = frozenTeacher(b, x, teacher);
  if (t.batchNorms.length === 0)
    throw new Error(
      teacher.kind === "onnx"
        ? noBatchNormMessage(teacher.file)
        : `${teacher.spec.arch} has no BatchNormalization layer; recover matches BN statistics and needs at least one: ` +
            `use a BN architecture as the teacher (vit-tiny's is bn-vit-tiny)`,
    );
  const ce = crossEntropy(b, t.logits, targets);
  const bn = b.scope("bn_statistics", () => {
    let total: Value | null = null;
    t.batchNorms.forEach((rec, l) => {
      const v = rec.input;
      // Every axis but the channels: batch and space (CNN), batch and tokens (BN-ViT's [N, D, T]).
      const axes = [0, ...[...Array(v.shape.length - 2).keys()].map((a) => a + 2)];
      const mean = b.reduceMean(v, axes, true);
      const centred = b.sub(v, mean);
      const variance = b.reduceMean(b.mul(centred, centred), axes, false);
      const dMean = b.sub(b.reshape(mean, [-1]), rec.runningMean);
      const dVar = b.sub(variance, rec.runningVar);
      const term = b.scale(b.add(l2Norm(b, dMean), l2Norm(b, dVar)), l === 0 ? cfg.firstBnMultiplier : 1);
      total = total ? b.add(total, term) : term;
    });
    return total!;
  });
  const loss = b.add(ce, b.scale(bn, cfg.rBn));
  return { loss, ce, bn, logits: t.logits, bnLayers: t.batchNorms.length };
}

export class RecoverStep {
  private stepCount = 0;

  private constructor(
    readonly program: Program,
    private readonly update: OptimizerUpdate,
    readonly bnLayers: number,
  ) {}

  static async compile(
    teacher: TeacherSource,
    cfg: RecoverStepConfig,
    init: TensorData,
    opts: CompileOptions = {},
  ): Promise<RecoverStep> {
    const { batch: B, channels: C, size: H, cropSize: S } = cfg;
    const b = new GraphBuilder("recover_step");
    const images = b.input("images", "float32", [B, C, H, H]);
    const rows = b.input("crop_rows", "float32", [S, H]);
    const colsT = b.input("crop_cols_t", "float32", [H, S]);
    const targets = b.input("targets", "float32", [B, cfg.classes]);

    const crops = b.scope("crop", () => b.matmul(b.matmul(rows, images), colsT));
    const { loss, ce, bn, logits, bnLayers } = recoverObjective(b, teacher, crops, targets, cfg);
    const [grad] = gradients(b, loss, [images]);
    const update = adam({ beta1: cfg.beta1, beta2: cfg.beta2 }).apply(b, [{ name: "images", param: images, grad }]);
    const bound = (v: number[]) => b.constant(tensor("float32", [1, C, 1, 1], v));
    const clipped = b.scope("clip", () =>
      b.op1("Max", [b.op1("Min", [update.updated.get("images")!, bound(cfg.upper)]), bound(cfg.lower)]),
    );
    b.output(loss, "loss");
    b.output(ce, "ce");
    b.output(bn, "bn");
    b.output(logits, "logits");
    const program = await Program.compile(b.graph, [{ input: images, output: clipped, init }, ...update.state], opts);
    return new RecoverStep(program, update, bnLayers);
  }

  async step(
    rows: Float32Array,
    colsT: Float32Array,
    targets: TensorData,
    lr: number,
    cfg: RecoverStepConfig,
  ): Promise<RecoverStepResult> {
    const out = await this.program.run({
      crop_rows: tensor("float32", [cfg.cropSize, cfg.size], rows),
      crop_cols_t: tensor("float32", [cfg.size, cfg.cropSize], colsT),
      targets,
      ...this.update.feeds(this.stepCount++, lr),
    });
    const scalar = (n: string) => (out[n].data as Float32Array)[0];
    return { loss: scalar("loss"), ce: scalar("ce"), bn: scalar("bn"), logits: out.logits.data as Float32Array };
  }

  /** Starts a new batch: new initial images, Adam moments zeroed, step count back to 0. */
  reset(init: TensorData): void {
    for (const name of this.program.stateNames()) {
      if (name === "images") this.program.setState(name, init);
      else this.program.setState(name, tensor("float32", init.shape as number[]));
    }
    this.stepCount = 0;
  }

  images(): TensorData {
    return this.program.getState("images");
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
