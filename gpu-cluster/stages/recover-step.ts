// One recover iteration as one compiled ONNX program (SRe2L §3.2):
//
//   x̃ = R_y · X · R_xᵀ                    random-resized crop (+ flip) as two interpolation
//                                          matrices fed each step, shared by the whole batch,
//                                          so gradients flow through the crop to X
//   (x̃ = X · Mᵀ per flattened plane        with sampledCrop: turned crops, not separable)
//   L = CE(teacher(x̃), y) + r_bn · Σ_l m_l (‖μ_l(x̃) − μ_l^run‖₂ + ‖σ²_l(x̃) − σ²_l^run‖₂)
//       [+ r_compete · (1 − JS(teacher(x̃), student(x̃)) / ln 2)]
//   X ← clip(Adam(X, ∂L/∂X))               per channel, to the range of valid pixels
//
// μ_l, σ²_l are the per-channel batch mean and biased variance of the input of BatchNorm layer
// l; m_1 = first_bn_multiplier, m_l = 1 otherwise. The teacher is frozen: only the images are
// differentiated, and the gradient walker prunes every weight branch. The optional competition
// term is Adaptive DeepInversion's (Yin et al., CVPR 2020): a frozen student that already learnt
// from the starting images competes with the teacher, and the images move to where the two
// disagree (Jensen–Shannon at temperature T), which is what that student has not yet learnt.
import { GraphBuilder, tensor } from "../graph/builder.ts";
import type { TensorData, Value } from "../graph/types.ts";
import { gradients } from "../autodiff/gradients.ts";
import { crossEntropy, jensenShannon, l2Norm } from "../autodiff/losses.ts";
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
  /** Weight and temperature of the competition term; absent: no term (the original). */
  compete?: CompeteConfig;
  /** Adam betas of the original: (0.5, 0.9). */
  beta1: number;
  beta2: number;
  /** Per-channel bounds of valid pixels in normalised space ((0 − mean)/std, (1 − mean)/std). */
  lower: number[];
  upper: number[];
  /** Crops as one (size²) × (cropSize²) sampling matrix per step (turned crops): stepSampled. */
  sampledCrop?: boolean;
}

export interface CompeteConfig {
  weight: number;
  temperature: number;
}

/** The loss of one step and its terms. */
export interface RecoverTerms {
  loss: number;
  ce: number;
  bn: number;
  /** 1 − JS / ln 2 between teacher and competing student (1: they agree); with a competitor only. */
  compete?: number;
}

export interface RecoverStepResult extends RecoverTerms {
  /** Teacher logits of this step's crops [batch, classes]. */
  logits: Float32Array;
}

export interface RecoverObjective {
  loss: Value;
  ce: Value;
  bn: Value;
  compete?: Value;
  logits: Value;
  bnLayers: number;
}

/**
 * L = CE(teacher(x), y) + r_bn · Σ_l m_l (‖μ_l(x) − μ_l^run‖₂ + ‖σ²_l(x) − σ²_l^run‖₂) on the
 * teacher's input `x` (the crops), as SRe2L's forward hooks compute it; with `cfg.compete` and a
 * `competitor`, + r_compete · (1 − JS(teacher(x), competitor(x)) / ln 2).
 */
export function recoverObjective(
  b: GraphBuilder,
  teacher: TeacherSource,
  x: Value,
  targets: Value,
  cfg: Pick<RecoverStepConfig, "rBn" | "firstBnMultiplier" | "compete">,
  competitor?: TeacherSource,
): RecoverObjective {
  if (!cfg.compete !== !competitor)
    throw new Error(
      "recover's competition term needs the competing student together with its weight (cfg.compete, --r-compete): give both or neither",
    );
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
  let loss = b.add(ce, b.scale(bn, cfg.rBn));
  let compete: Value | undefined;
  if (cfg.compete && competitor) {
    const { temperature, weight } = cfg.compete;
    const student = frozenTeacher(b, x, competitor, "competitor").logits;
    const js = jensenShannon(b, t.logits, student, temperature);
    compete = b.scope("compete", () => b.sub(b.scalar(1, js.dtype), b.scale(js, 1 / Math.LN2)));
    loss = b.add(loss, b.scale(compete, weight));
  }
  return { loss, ce, bn, compete, logits: t.logits, bnLayers: t.batchNorms.length };
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
    competitor?: TeacherSource,
  ): Promise<RecoverStep> {
    const { batch: B, channels: C, size: H, cropSize: S } = cfg;
    const b = new GraphBuilder("recover_step");
    const images = b.input("images", "float32", [B, C, H, H]);
    let crops: Value;
    if (cfg.sampledCrop) {
      const matrixT = b.input("crop_matrix_t", "float32", [H * H, S * S]);
      crops = b.scope("crop", () => b.reshape(b.matmul(b.reshape(images, [B, C, H * H]), matrixT), [B, C, S, S]));
    } else {
      const rows = b.input("crop_rows", "float32", [S, H]);
      const colsT = b.input("crop_cols_t", "float32", [H, S]);
      crops = b.scope("crop", () => b.matmul(b.matmul(rows, images), colsT));
    }
    const targets = b.input("targets", "float32", [B, cfg.classes]);

    const { loss, ce, bn, compete, logits, bnLayers } = recoverObjective(b, teacher, crops, targets, cfg, competitor);
    const [grad] = gradients(b, loss, [images]);
    const update = adam({ beta1: cfg.beta1, beta2: cfg.beta2 }).apply(b, [{ name: "images", param: images, grad }]);
    const bound = (v: number[]) => b.constant(tensor("float32", [1, C, 1, 1], v));
    const clipped = b.scope("clip", () =>
      b.op1("Max", [b.op1("Min", [update.updated.get("images")!, bound(cfg.upper)]), bound(cfg.lower)]),
    );
    b.output(loss, "loss");
    b.output(ce, "ce");
    b.output(bn, "bn");
    if (compete) b.output(compete, "compete");
    b.output(logits, "logits");
    const program = await Program.compile(b.graph, [{ input: images, output: clipped, init }, ...update.state], opts);
    return new RecoverStep(program, update, bnLayers);
  }

  /** One step on the separable crop R_y · X · R_xᵀ. */
  step(
    rows: Float32Array,
    colsT: Float32Array,
    targets: TensorData,
    lr: number,
    cfg: RecoverStepConfig,
  ): Promise<RecoverStepResult> {
    return this.run(
      {
        crop_rows: tensor("float32", [cfg.cropSize, cfg.size], rows),
        crop_cols_t: tensor("float32", [cfg.size, cfg.cropSize], colsT),
      },
      targets,
      lr,
    );
  }

  /** One step on the crop X · Mᵀ (compiled with sampledCrop; Mᵀ from sampledCropMatrixT). */
  stepSampled(
    matrixT: Float32Array,
    targets: TensorData,
    lr: number,
    cfg: RecoverStepConfig,
  ): Promise<RecoverStepResult> {
    const [H, S] = [cfg.size, cfg.cropSize];
    return this.run({ crop_matrix_t: tensor("float32", [H * H, S * S], matrixT) }, targets, lr);
  }

  private async run(crop: Record<string, TensorData>, targets: TensorData, lr: number): Promise<RecoverStepResult> {
    const out = await this.program.run({ ...crop, targets, ...this.update.feeds(this.stepCount++, lr) });
    const scalar = (n: string) => (out[n].data as Float32Array)[0];
    return {
      loss: scalar("loss"),
      ce: scalar("ce"),
      bn: scalar("bn"),
      ...(out.compete ? { compete: scalar("compete") } : {}),
      logits: out.logits.data as Float32Array,
    };
  }

  /** Starts a new batch: new initial images, Adam moments zeroed, step count back to 0. */
  reset(init: TensorData): void {
    for (const name of this.program.stateNames()) {
      if (name === "images") this.program.setState(name, init);
      else this.program.setState(name, tensor("float32", init.shape as number[]));
    }
    this.stepCount = 0;
  }

  images(): Promise<TensorData> {
    return this.program.getState("images");
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
