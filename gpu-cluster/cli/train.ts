// `distill train`: a training client of the edge. Streams a run's soft labels (and, with
// --pixels, its crops) from the edge's batch stream and trains a student, as `distill evaluate`
// would on the run folder; checkpoints as it goes, so a killed client resumes where it stopped
// (dropped connections are retried by the batch client); reports top-1 on the val set.
// `--serve` instead serves the browser trainer page (web-trainer/) for local use.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { BatchClient } from "../../edge/client/batch-client.ts";
import { channelStats, decodeImage, loadDataset, type DatasetSplits } from "../data/index.ts";
import { readNpy } from "../io/npy.ts";
import { unpackImages } from "../../shared/image-bits.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic-write.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import { EXECUTION_PROVIDERS, type ExecutionProvider } from "../runtime/execution-provider.ts";
import type { ImageSet } from "../stages/crops.ts";
import { HALD_SMOOTHING } from "../stages/hard-label-phase.ts";
import { StreamTrainer } from "../stream/stream-trainer.ts";
import type { RunManifest } from "../../shared/manifest.ts";
import { createProgress } from "./progress.ts";
import { edgeUrl } from "./edge-url.ts";
import { atLeast, fraction, int, positive } from "./number-args.ts";
import { arch, hardPhaseOf, lrStretchOf } from "./options.ts";

export interface TrainOptions {
  edge: string;
  token?: string;
  run?: string;
  student: string;
  studentWidth?: number;
  studentBatch: number;
  studentLr: number;
  studentLrStretch: number;
  studentHardPhase: number;
  studentHardSmoothing: number;
  epochs?: number;
  seed?: number;
  pixels: boolean;
  images?: string;
  data?: string;
  resolution?: number;
  out?: string;
  checkpointEvery?: number;
  ep: ExecutionProvider;
  threads?: number;
  retries: number;
  quiet: boolean;
  json: boolean;
  serve: boolean;
  port?: number;
  heldout: number;
}

/** What `distill train` reports (also written to <out>/result.json). */
export interface TrainResult {
  run: string;
  student: string;
  epochs: number;
  steps: number;
  crops: "local" | "pixels";
  resumedAtStep: number;
  accuracy: number;
  valImages: number;
  epochLosses: number[];
  seconds: number;
}

/** The run's synthetic images from a local copy: a run folder (images.npy), a packed file (images.dpk, --image-bits) or a folder of PNGs (000000.png …). */
export function loadLocalImages(dir: string): ImageSet {
  if (dir.endsWith(".dpk")) {
    if (!existsSync(dir)) throw new Error(`--images ${dir}: no such packed image file; pass a run's images.dpk`);
    const { pixels, shape } = unpackImages(new Uint8Array(readFileSync(dir)));
    return { pixels, count: shape[0], channels: shape[1], size: shape[2] };
  }
  const npy = [join(dir, "images.npy"), dir].find((p) => p.endsWith(".npy") && existsSync(p));
  if (npy) {
    const t = readNpy(npy);
    if (t.shape.length !== 4 || !(t.data instanceof Float32Array))
      throw new Error(`${npy}: expected float32 images [N, C, H, W], got ${t.shape.join("×")}`);
    const [count, channels, size] = t.shape;
    return { pixels: t.data, count, channels, size };
  }
  const pngDir = existsSync(join(dir, "images")) ? join(dir, "images") : dir;
  if (!existsSync(pngDir)) throw new Error(`--images ${dir}: no such folder`);
  const files = readdirSync(pngDir)
    .filter((f) => /^\d+\.png$/.test(f))
    .sort();
  if (!files.length)
    throw new Error(`--images ${dir}: neither images.npy nor numbered PNGs (000000.png …): pass the run folder`);
  const decoded = files.map((f) => decodeImage(new Uint8Array(readFileSync(join(pngDir, f))), f));
  const { channels, height: size } = decoded[0];
  const per = channels * size * size;
  const pixels = new Float32Array(files.length * per);
  decoded.forEach((d, i) => {
    if (d.channels !== channels || d.height !== size || d.width !== size)
      throw new Error(
        `--images ${dir}: ${files[i]} is ${d.channels}×${d.height}×${d.width}, the first image ${channels}×${size}×${size}`,
      );
    pixels.set(d.data, i * per);
  });
  return { pixels, count: files.length, channels, size };
}

/** The val set and the normalisation (the training split's channel statistics, as squeeze and evaluate use). */
export function loadValidation(o: Pick<TrainOptions, "data" | "resolution">, m: RunManifest): DatasetSplits {
  const splits = loadDataset(
    o.data,
    o.resolution ? { height: o.resolution, width: o.resolution, seed: m.seeds.run } : { seed: m.seeds.run },
  );
  const { val } = splits;
  const S = m.relabel.schedule.outputSize;
  if (
    val.classes.length !== m.dataset.classes ||
    val.channels !== m.dataset.channels ||
    val.height !== S ||
    val.width !== S
  )
    throw new Error(
      `the val data (${val.classes.length} classes, ${val.channels} × ${val.height} × ${val.width}) is not run ${m.runId}'s (${m.dataset.classes} classes, ${m.dataset.channels} × ${S} × ${S}): pass its --data${val.height !== S ? ` (or --resolution ${S})` : ""}`,
    );
  return splits;
}

export async function train(o: TrainOptions, log: (line: string) => void): Promise<TrainResult> {
  const start = performance.now();
  const token = o.token ?? process.env.DISTILL_TOKEN;
  if (!token)
    throw new Error("a trainer token is needed: --token T or DISTILL_TOKEN (an admin mints one: POST /v1/tokens)");
  if (!o.run) throw new Error("--run ID is needed (the run's id on the edge, manifest.json's runId)");
  if (o.pixels && o.images)
    throw new Error("--pixels and --images exclude each other: crops come from the edge or from local images");
  const client = await BatchClient.open({
    baseUrl: o.edge,
    token,
    run: o.run,
    batchSize: o.studentBatch,
    pixels: !o.images,
    prefetch: 4,
    retries: o.retries,
    onRetry: (r) => log(`edge: retry ${r.attempt} in ${Math.round(r.delayMs)} ms (${r.reason})`),
  });
  const m = client.manifest;
  const { train: trainSplit, val } = loadValidation(o, m);
  const images = o.images ? loadLocalImages(o.images) : undefined;
  const trainer = await StreamTrainer.create(
    {
      manifest: m,
      student: {
        arch: o.student,
        width: o.studentWidth, // absent: StreamTrainer follows the teacher (student-width.ts)
        batch: o.studentBatch,
        lr: o.studentLr,
        ...lrStretchOf(o),
        ...hardPhaseOf(o),
        weightDecay: 0.01,
        seed: o.seed ?? m.seeds.run,
      },
      epochs: o.epochs ?? m.relabel.epochs,
      stats: channelStats(trainSplit),
      images,
    },
    { ep: o.ep, threads: o.threads },
  );
  const out = o.out ?? join("runs", `train-${m.runId}-${o.student}`);
  const ckpt = join(out, "checkpoint.bin");
  if (existsSync(ckpt)) {
    trainer.restore(new Uint8Array(readFileSync(ckpt)), ckpt);
    log(
      `resuming from ${ckpt}: step ${trainer.steps} of ${trainer.totalSteps} (epoch ${trainer.position.epoch}, batch ${trainer.position.batch})`,
    );
  }
  const resumedAtStep = trainer.steps;
  const every = o.checkpointEvery ?? trainer.batchesPerEpoch;
  if (!trainer.done) {
    const bar = o.quiet ? null : createProgress(o.student, trainer.totalSteps, "step");
    bar?.update(trainer.steps);
    for await (const b of client.batches(trainer.position, trainer.config.epochs)) {
      const loss = await trainer.step(b);
      if (trainer.steps % every === 0 || trainer.done) writeFileAtomic(ckpt, await trainer.checkpoint());
      bar?.update(trainer.steps, `epoch ${trainer.position.epoch + (trainer.done ? 0 : 1)} loss ${loss.toFixed(4)}`);
    }
    bar?.stop();
  }
  const accuracy = await trainer.accuracy(val);
  writeFileAtomic(join(out, "student.onnx"), serializeModel(await trainer.frozenGraph()));
  await trainer.release();
  const result: TrainResult = {
    run: m.runId,
    student: o.student,
    epochs: trainer.config.epochs,
    steps: trainer.steps,
    crops: images ? "local" : "pixels",
    resumedAtStep,
    accuracy,
    valImages: val.labels.length,
    epochLosses: trainer.epochLosses,
    seconds: (performance.now() - start) / 1000,
  };
  writeJsonAtomic(join(out, "result.json"), result);
  return result;
}

export function addTrainCommand(program: Command): void {
  program
    .command("train")
    .description(
      "train a student from the edge's batch stream (labels, with local or edge crops); --serve: the browser trainer page",
    )
    .requiredOption("--edge <url>", "the edge service, e.g. http://127.0.0.1:8787", edgeUrl)
    .option("--token <jwt>", "a trainer token for the run (default: $DISTILL_TOKEN)")
    .option("--run <id>", "the run's id on the edge")
    .option("--student <arch>", "student architecture", arch("--student"), "convnet-3")
    .option(
      "--student-width <n>",
      "student first-stage width (default: as `distill evaluate`'s: the run's teacher's width for a teacher of the student's family, else 32)",
      int("--student-width", 1),
    )
    .option("--student-batch <n>", "batch size (as evaluate's --student-batch)", int("--student-batch", 1), 50)
    .option("--student-lr <x>", "AdamW learning rate (cosine)", positive("--student-lr"), 0.003)
    .option(
      "--student-lr-stretch <z>",
      "the cosine of a run z times as long, cut at the end (EDC's smoothed schedule; 1: decay to 0)",
      atLeast("--student-lr-stretch", 1),
      1,
    )
    .option(
      "--student-hard-phase <f>",
      "HALD's soft → hard → soft student (as evaluate's): the middle share f of the epochs trains on the images' own classes instead of the stream's labels (0: none)",
      fraction("--student-hard-phase"),
      0,
    )
    .option(
      "--student-hard-smoothing <s>",
      "label smoothing of --student-hard-phase's hard targets (as evaluate's)",
      fraction("--student-hard-smoothing", true),
      HALD_SMOOTHING,
    )
    .option("--epochs <n>", "epochs to train (default: the run's relabel epochs)", int("--epochs", 1))
    .option("--seed <s>", "weight initialisation seed (default: the run's seed, as evaluate)", int("--seed"))
    .option("--pixels", "crops from the edge (pixels=1); the default when --images is absent", false)
    .option(
      "--images <dir>",
      "crop local copies of the synthetic images (a run folder's images.npy, its packed images.dpk, or numbered PNGs)",
    )
    .option("--data <path>", "the val data (IDX or image folder, as given to distill run; default: the embedded MNIST)")
    .option("--resolution <px>", "image folders: resize as distill run --resolution did", int("--resolution", 4))
    .option("--out <dir>", "checkpoint, result.json and student.onnx (default runs/train-<run>-<student>)")
    .option(
      "--checkpoint-every <steps>",
      "steps between checkpoints (default: one epoch)",
      int("--checkpoint-every", 1),
    )
    .addOption(
      new Option("--ep <name>", "ONNX Runtime execution provider").choices([...EXECUTION_PROVIDERS]).default("cpu"),
    )
    .option("--threads <n>", "intra-op threads (default: ORT's choice)", int("--threads", 1))
    .option("--retries <n>", "retries per request after a dropped connection or a 5xx", int("--retries"), 8)
    .option("--quiet", "no progress bar (log lines still print)", false)
    .option("--json", "print the result as JSON", false)
    .option("--serve", "serve the browser trainer page on 127.0.0.1 (it proxies the edge) until interrupted", false)
    .option("--port <n>", "port for --serve (default 8788; 0 picks a free one)", int("--port"))
    .option(
      "--heldout <n>",
      "--serve: val images shipped to the page for its held-out top-1",
      int("--heldout", 1),
      1000,
    )
    .action(async (o: TrainOptions) => {
      const log = (line: string) => process.stderr.write(`${line}\n`); // --quiet drops the bar only
      if (o.serve) {
        const { serveTrainerPage } = await import("./train-serve.ts");
        const server = await serveTrainerPage(o);
        process.stderr.write(`trainer page: ${server.url} (Ctrl-C to stop)\n`);
        await new Promise<void>((done) => {
          process.once("SIGINT", () => server.close().then(done));
          process.once("SIGTERM", () => server.close().then(done));
        });
        return;
      }
      const r = await train(o, log);
      if (o.json) process.stdout.write(JSON.stringify(r) + "\n");
      else
        process.stdout.write(
          `${r.student} trained from the stream of run ${r.run} (${r.crops} crops, ${r.epochs} epochs, ${r.steps} steps): val top-1 ${(r.accuracy * 100).toFixed(2)} % on ${r.valImages} images\n`,
        );
    });
}
