// Command-line options shared by every `distill` subcommand, and the run configuration they
// resolve to. Defaults follow the original SRe2L scripts, scaled for small images where the
// paper's values assume 224 px ImageNet (see ../shared/reference notes and README).
import { MAX_SAMPLED_CROP, type RecoverConfig, type RecoverInit } from "../stages/recover.ts";
import type { SqueezeConfig } from "../stages/squeeze.ts";
import type { AugmentOptions } from "../data/index.ts";
import { SELECTION_KINDS, type SelectionKind } from "../stages/selection-kinds.ts";
import { GATE_KEEP_RULES, type GateKeep } from "../stages/recover-gate.ts";
import { HALD_SMOOTHING, type HardLabelPhase } from "../stages/hard-label-phase.ts";
import { Command, InvalidArgumentError, Option } from "commander";
import { atLeast, degrees, fraction, int, nonNegative, positive } from "./number-args.ts";
import { EXECUTION_PROVIDERS, type ExecutionProvider } from "../runtime/execution-provider.ts";
import { ARCHITECTURES, batchNormForm, WITHOUT_BATCHNORM } from "../models/zoo.ts";
import { IMAGE_BITS, imagesPerByteImage, type ImageBits } from "../../shared/image-bits.ts";

/** Teacher width when --teacher-width is not given; squeeze doubles it once for a teacher that underfits (stages/teacher-width.ts). */
export const DEFAULT_TEACHER_WIDTH = 32;

export interface CliOptions {
  data?: string;
  resolution?: number;
  ipc: number;
  /** Bits per stored pixel: the run keeps 8 / imageBits images per class for each of --ipc's 8-bit images; auto: from the teacher on quantised held-out images (stages/image-bits-choice.ts). */
  imageBits: ImageBits | "auto";
  out?: string;
  seed: number;
  /** Run id written into label tables and the manifest (default: from the run folder's path). */
  runId?: string;
  teacher?: string;
  force: boolean;
  quiet: boolean;
  ep: ExecutionProvider;
  threads?: number;
  /** The least time between two saves of a student's training state (students/KEY.ckpt). */
  checkpointSeconds: number;
  // squeeze
  teacherArch: string;
  /** undefined: DEFAULT_TEACHER_WIDTH, widened once when it underfits. */
  teacherWidth?: number;
  /** undefined: from the training-set size (squeeze.ts teacherEpochs). */
  teacherEpochs?: number;
  // recover
  iterations: number;
  recoverBatch: number;
  recoverLr: number;
  rBn: number;
  /** Weight of recover's competition term (0: none); the competitor is the start's gate student. */
  rCompete: number;
  firstBnMultiplier: number;
  select: SelectionKind;
  selectFrom: number;
  /** Keep the image set (random, start, recovered) whose full student wins on unseen training images (stages/recover-gate.ts). */
  recoverGate: boolean;
  /** Random real subsets the gate weighs ((b)'s and gateDraws − 1 more); undefined: defaultGateDraws(ipc). */
  gateDraws?: number;
  /** significant: a more processed set must win by McNemar at 5 %; best: the highest score wins (ties keep the less processed). */
  gateKeep: GateKeep;
  /** Random subsets short students screen for the gate's further draws (0: draw-2 … draw-N as they come). */
  gateScreen: number;
  /** The screening students' epochs; undefined: a quarter of the student's. */
  screenEpochs?: number;
  /** Processes training the gate's students side by side (1: this one alone; auto: gateWorkers() in gate-helpers.ts). */
  gateWorkers: number | "auto";
  init: RecoverInit;
  cropScale: [number, number];
  flip?: number;
  /** Largest rotation of a relabel/student crop, in degrees (0: none). */
  rotate: number;
  /** Largest rotation of recover's per-step crops, in degrees (0: none). */
  recoverRotate: number;
  // relabel
  /** Student epochs; undefined: decided from the distilled set's size (defaultStudentEpochs). */
  epochs?: number;
  /** Labelled epochs kept (the label budget); student epoch e reuses epoch e mod labelEpochs. undefined: all. */
  labelEpochs?: number;
  topK: number;
  quant: "u8" | "f16";
  temperature: number;
  mix: "none" | "cutmix" | "mixup";
  // evaluate
  students: string[];
  studentWidth?: number;
  studentBatch: number;
  studentLr: number;
  /** The student cosine's stretch ζ (EDC's smoothed schedule; 1: decay to 0). */
  studentLrStretch: number;
  /** Share of a soft-labelled student's epochs in the middle trained on hard labels (HALD); 0: none. */
  studentHardPhase: number;
  /** Label smoothing of those hard targets. */
  studentHardSmoothing: number;
  /** Initial-weight seed of evaluate's and the baselines' students; undefined: seed. The gate's and probe's keep seed. */
  studentSeed?: number;
  /** Students per set for evaluate and the baselines, each from its own draw of initial weights; they report the mean. */
  studentInits: number;
  baselines: boolean;
}

const range = (v: string): [number, number] => {
  const parts = v.split(",").map(Number);
  if (parts.length !== 2 || !(parts[0] > 0 && parts[0] <= parts[1] && parts[1] <= 1)) {
    throw new InvalidArgumentError(`--crop-scale must be 'lo,hi' with 0 < lo ≤ hi ≤ 1, got '${v}'`);
  }
  return [parts[0], parts[1]];
};
/** An architecture of the zoo, refused naming the flag and the choices. */
export const arch =
  (name: string) =>
  (v: string): string => {
    if (!ARCHITECTURES.includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${ARCHITECTURES.join(", ")}, got '${v}'`);
    return v;
  };
const runIdArg = (v: string): string => {
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(v))
    throw new InvalidArgumentError(`--run-id must be 1–16 characters of A–Z, a–z, 0–9, '_' or '-', got '${v}'`);
  return v;
};
const teacherArch = (v: string): string => {
  if (WITHOUT_BATCHNORM.includes(v))
    throw new InvalidArgumentError(
      `--teacher-arch ${v} has no BatchNorm layer for recover to match: use ${batchNormForm(v)} (its BatchNorm form)`,
    );
  return arch("--teacher-arch")(v);
};
const gateWorkersArg = (v: string): number | "auto" => {
  if (v === "auto") return v;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`--gate-workers must be auto or an integer ≥ 1, got '${v}'`);
  return n;
};
const imageBitsArg = (v: string): ImageBits | "auto" => {
  const b = Number(v) as ImageBits;
  if (v !== "auto" && !IMAGE_BITS.includes(b))
    throw new InvalidArgumentError(
      `--image-bits must be one of ${IMAGE_BITS.join(", ")} (8 / b images per byte) or auto, got '${v}'`,
    );
  return v === "auto" ? v : b;
};
/** --students: architectures of the zoo, checked here so a typo is refused before squeeze, not after it. */
const studentArchs = (v: string): string[] => {
  const archs = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (archs.length === 0) throw new InvalidArgumentError(`--students needs at least one architecture, got '${v}'`);
  const repeated = archs.find((a, i) => archs.indexOf(a) !== i);
  if (repeated) throw new InvalidArgumentError(`--students names ${repeated} twice, got '${v}'`);
  for (const a of archs) arch("--students")(a);
  return archs;
};

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option("--data <path>", "IDX folder or image folder (one sub-folder per class); default: the embedded MNIST")
    .option(
      "--resolution <px>",
      "image folders: resize every image to px × px (default: the first image's size)",
      int("--resolution", 4),
    )
    .option(
      "--ipc <n>",
      "synthetic images per class (at --image-bits below 8: their bytes' worth)",
      int("--ipc", 1),
      10,
    )
    .option(
      "--image-bits <b>",
      "bits per pixel of the distilled images (1, 2, 4, 8 or auto: 4 where 16 grey levels cost the teacher at most 0.5 pt of top-1 on held-out training images and the smallest class holds 4 × --ipc (the start takes at most half of it), else 8): at b < 8 the run keeps 8 / b images per class for each of --ipc's 8-bit images, in the same bytes (levels k / (2^b − 1); images.dpk holds them packed). (a) and (b) keep --ipc 8-bit real images; every student sees the same number of crops and labels (its epochs scale with its image count)",
      imageBitsArg,
      "auto",
    )
    .option("--out <dir>", "run folder (default runs/<dataset>-ipc<N>-seed<S>)")
    .option("--seed <s>", "seed of every random choice in the run", int("--seed"), 0)
    .option("--run-id <id>", "run id of the label tables and manifest (default: from the run folder's path)", runIdArg)
    .option(
      "--teacher <file.onnx>",
      "import this pretrained teacher instead of training one (squeeze is skipped); several, comma-separated: their ensemble (mean logits) is the teacher",
    )
    .option("--force", "redo stages even when their outputs exist and match the config", false)
    .option("--quiet", "no progress bars (log lines, such as the gate's decision, still print)", false)
    .addOption(
      new Option("--ep <name>", "ONNX Runtime execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"),
    )
    .option("--threads <n>", "intra-op threads (default: ORT's choice)", int("--threads", 1))
    .option(
      "--checkpoint-seconds <s>",
      "students save their training state (students/KEY.ckpt) at an epoch's end at most this often, and a rerun goes on from it",
      nonNegative("--checkpoint-seconds"),
      60,
    )
    .option(
      "--teacher-arch <arch>",
      "squeeze: teacher architecture (convnet-D, resnet18, resnet50, resnet101, bn-vit-tiny)",
      teacherArch,
      "convnet-3",
    )
    .option(
      "--teacher-width <n>",
      `squeeze: teacher first-stage width (ViT: embedding width, 192 = Tiny) (default: ${DEFAULT_TEACHER_WIDTH}, and ` +
        `${2 * DEFAULT_TEACHER_WIDTH} as well when that teacher underfits: the better on held-out train images is kept)`,
      int("--teacher-width", 1),
    )
    .option(
      "--teacher-epochs <n>",
      "squeeze: epochs over the real training set (default: about 1 M images seen, 2–200 epochs; MNIST 18)",
      int("--teacher-epochs", 1),
    )
    .option("--iterations <n>", "recover: Adam steps per batch of synthetic images", int("--iterations", 1), 100)
    .option(
      "--recover-batch <n>",
      "recover: images optimised together (whole blocks of classes)",
      int("--recover-batch", 1),
      100,
    )
    .option("--recover-lr <x>", "recover: Adam learning rate (cosine decay to 0)", positive("--recover-lr"), 0.05)
    .option("--r-bn <x>", "recover: weight of the BatchNorm-statistics loss", nonNegative("--r-bn"), 1)
    .option(
      "--r-compete <x>",
      "recover, --init real: weight of Adaptive DeepInversion's competition term: the images move to where a student trained on the starting images disagrees with the teacher (Jensen–Shannon at --temperature); that student is the one the recover gate trains on the start anyway (0: off)",
      nonNegative("--r-compete"),
      0,
    )
    .option(
      "--first-bn-multiplier <x>",
      "recover: extra weight of the first BN layer",
      nonNegative("--first-bn-multiplier"),
      10,
    )
    .addOption(
      new Option("--init <kind>", "recover: initial images").choices(["noise", "real", "collage"]).default("real"),
    )
    .addOption(
      new Option(
        "--select <how>",
        "recover, --init real: which real images to start from: random (baseline b's), typical (lowest teacher CE of m per image), hard (highest teacher CE of m per image among those classified correctly), kmeans (pixel k-means over m per image), kmeans-labels (k-means over the teacher's log-probabilities at --temperature instead of pixels), probe (of each k-means cluster, the member a student trained on the k-means choice gets most wrong; costs one student more), probe-cover (pixel k-means with each candidate weighted by that student's disagreement with the teacher; costs one student more), factorial (each class's images from (b)'s random draw or one of two more, chosen by short students (--screen-epochs) on an orthogonal array of 3^k combinations: 27 for up to 13 classes, 81 up to 40)",
      )
        .choices(SELECTION_KINDS)
        .default("kmeans"),
    )
    .option(
      "--no-recover-gate",
      "recover, --init real: keep the recovered images even when a student on (b)'s random images or on the starting images scores significantly higher on training images none of them came from (by default the gate keeps the set that wins; its student is then ours)",
    )
    .option(
      "--gate-draws <n>",
      "recover gate: random real subsets it weighs, (b)'s and n − 1 more, each a relabel and a full student; a draw that beats (b)'s by McNemar at 5 %/n is kept (and must itself be beaten by the start and the recovered images) (default: 5 at IPC 1, else 1)",
      int("--gate-draws", 1),
    )
    .addOption(
      new Option(
        "--gate-keep <rule>",
        "recover gate: significant (a more processed set, or a further draw, must beat the kept one by McNemar at 5 %) or best (the highest score on the scoring images wins; ties keep the less processed set)",
      )
        .choices([...GATE_KEEP_RULES])
        .default("significant"),
    )
    .option(
      "--gate-screen <n>",
      "recover gate: draw n random subsets besides (b)'s, train a short student on each (--screen-epochs), and weigh the --gate-draws − 1 that score best on training images of their own (none of the gate's) instead of the first ones (0: off)",
      int("--gate-screen", 0),
      0,
    )
    .option(
      "--screen-epochs <e>",
      "recover gate, --gate-screen: epochs of each screening student (default: a quarter of the student's)",
      int("--screen-epochs", 1),
    )
    .option(
      "--gate-workers <n>",
      "recover gate: processes training its students side by side: n − 1 helpers train the random draws' students (while recover runs), this one the rest; without --threads each process takes an equal share of the cores while the helpers run; once the draws are taken, helpers train baseline (a)'s students (distill run) (auto: one helper per such task, at most one process per core)",
      gateWorkersArg,
      "auto",
    )
    .option(
      "--select-from <m>",
      "recover, --select typical|hard|kmeans|kmeans-labels|probe|probe-cover: random real candidates per synthetic image (fewer where they would take more than half of a class: the recover gate scores on the rest)",
      int("--select-from", 1),
      10,
    )
    .option("--crop-scale <lo,hi>", "recover and relabel: RandomResizedCrop area range", range, [0.5, 1] as [
      number,
      number,
    ])
    .option(
      "--flip <p>",
      "recover and relabel: horizontal flip probability (default 0.5 where the class means are mirror-symmetric, else 0: data/mirror.ts)",
      nonNegative("--flip"),
    )
    .option(
      "--rotate <deg>",
      "relabel, evaluate and the recover gate's students: turn each crop by an angle drawn from [−deg, deg] (0: none; recover's own crops: --recover-rotate)",
      degrees("--rotate"),
      0,
    )
    .option(
      "--recover-rotate <deg>",
      `recover: turn each step's crop by an angle drawn from [−deg, deg] (0: none; a dense sampling matrix per step, images up to ${MAX_SAMPLED_CROP} px)`,
      degrees("--recover-rotate"),
      0,
    )
    .option(
      "--epochs <n>",
      "relabel and evaluate: student epochs, one crop per image per epoch (default: 300, or more so that a student sees ≥ 600 000 crops: on 10 classes IPC 1 gets 60 000, IPC 10 6000, IPC 50 1200)",
      int("--epochs", 1),
    )
    .option(
      "--label-epochs <n>",
      "relabel and evaluate: distinct labelled epochs stored (label budget); a soft-labelled student's epoch e reuses the crops and labels of epoch e mod n; (a), on hard labels, takes every epoch's own crops (default: every student epoch)",
      int("--label-epochs", 1),
    )
    .option("--top-k <n>", "relabel: classes kept per crop", int("--top-k", 1), 10)
    .addOption(new Option("--quant <q>", "relabel: probability quantisation").choices(["u8", "f16"]).default("u8"))
    .option(
      "--temperature <t>",
      "relabel and evaluate: softmax temperature of the soft labels",
      positive("--temperature"),
      4,
    )
    .addOption(
      new Option("--mix <kind>", "relabel and evaluate: mix crops of a batch")
        .choices(["none", "cutmix", "mixup"])
        .default("cutmix"),
    )
    .option("--students <archs>", "evaluate: student architectures, comma separated", studentArchs, ["convnet-3"])
    .option(
      "--student-width <n>",
      "evaluate: student first-stage width (ConvNet width, ResNet base planes, ViT embedding width) (default: the teacher's width for a teacher of the student's family, else 32)",
      int("--student-width", 1),
    )
    .option("--student-batch <n>", "evaluate: student batch size", int("--student-batch", 1), 50)
    .option("--student-lr <x>", "evaluate: AdamW learning rate (cosine)", positive("--student-lr"), 0.003)
    .option(
      "--student-lr-stretch <z>",
      "evaluate: the students' cosine is that of a run z times as long, cut at the end (EDC's smoothed schedule: z = 2 ends at half the rate; 1: decay to 0)",
      atLeast("--student-lr-stretch", 1),
      1,
    )
    .option(
      "--student-hard-phase <f>",
      "evaluate: HALD's soft → hard → soft students: the middle share f of a soft-labelled student's epochs trains on the images' own classes (mixed like the crops, smoothed; crops of its own epochs, past --label-epochs too); ours, (b) and the gate's students alike (0: soft labels throughout)",
      fraction("--student-hard-phase"),
      0,
    )
    .option(
      "--student-hard-smoothing <s>",
      "evaluate: label smoothing of --student-hard-phase's hard targets, (1 − s)·class + s / classes, under the same KL at --temperature",
      fraction("--student-hard-smoothing", true),
      HALD_SMOOTHING,
    )
    .option(
      "--student-seed <s>",
      "evaluate: seed of the initial weights of the students evaluate and the baselines train (default: --seed); the recover gate's and the probe's students keep --seed, so the images, crops and labels stay the run's and only the students' draw changes",
      int("--student-seed"),
    )
    .option(
      "--student-inits <k>",
      "evaluate: students per set for ours, (a) and (b), from k draws of initial weights (seeds: the student seed, then +1000 each); the table reports their means and ours − (b) draw by draw, report.json every draw",
      int("--student-inits", 1),
      1,
    )
    .option("--no-baselines", "evaluate: skip the random-subset baselines");
}

/** The students' cosine stretch as a StudentConfig field: absent at 1, so configs (and stage keys) of runs without it are unchanged. */
export function lrStretchOf(o: Pick<CliOptions, "studentLrStretch">): { lrStretch?: number } {
  return o.studentLrStretch > 1 ? { lrStretch: o.studentLrStretch } : {};
}

/**
 * A per-class count of real images in the flags that set it, and the fix where a class is too
 * small for it: "--ipc 13 × 8 / --image-bits 4", "lower --ipc or raise --image-bits".
 */
export function perClassFlags(ipc: number, bits: ImageBits, extra = ""): { flags: string; fix: string } {
  return {
    flags: `--ipc ${ipc}${bits < 8 ? ` × 8 / --image-bits ${bits}` : ""}${extra}`,
    fix: `lower --ipc${bits < 8 ? " or raise --image-bits" : ""}`,
  };
}

/**
 * The teacher recipe of `distill squeeze` and `distill continual`: the flags' architecture, width
 * and epochs (undefined: from the training-set size), a held-out choice of epoch and of raw or
 * averaged weights (ema: per-step decay), and `augment` (shift and flip, from the data): squeeze.ts,
 * docs/teacher.md.
 */
export function squeezeConfigOf(
  o: Pick<CliOptions, "teacherArch" | "teacherWidth" | "teacherEpochs">,
  augment: AugmentOptions,
  seed: number,
): SqueezeConfig & { width: number } {
  return {
    arch: o.teacherArch,
    width: o.teacherWidth ?? DEFAULT_TEACHER_WIDTH,
    epochs: o.teacherEpochs,
    batch: 128,
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
    warmupEpochs: 1,
    augment,
    ema: 0.999,
    holdout: true,
    seed,
  };
}

/** HALD's hard-label phase as a StudentConfig field: absent at 0, so configs (and stage keys) of runs without it are unchanged. */
export function hardPhaseOf(o: Pick<CliOptions, "studentHardPhase" | "studentHardSmoothing">): {
  hardPhase?: HardLabelPhase;
} {
  return o.studentHardPhase > 0
    ? { hardPhase: { fraction: o.studentHardPhase, smoothing: o.studentHardSmoothing } }
    : {};
}

/** Recover's settings from the options (one place for `distill run`, the shards and `distill continual`); `bits`: the run's --image-bits, resolved. */
export function recoverConfigOf(o: CliOptions, flipProb: number, seed: number, bits: ImageBits = 8): RecoverConfig {
  return {
    ipc: o.ipc * imagesPerByteImage(bits),
    iterations: o.iterations,
    batch: o.recoverBatch,
    lr: o.recoverLr,
    rBn: o.rBn,
    firstBnMultiplier: o.firstBnMultiplier,
    beta1: 0.5,
    beta2: 0.9,
    init: o.init,
    cropScale: o.cropScale,
    flipProb,
    seed,
    // absent when off, so configs (and stage keys) of runs without it are unchanged
    ...(o.rCompete > 0 ? { compete: { weight: o.rCompete, temperature: o.temperature } } : {}),
    ...(o.recoverRotate > 0 ? { rotate: o.recoverRotate } : {}),
  };
}
