// What `--rotate` does to the crops a student sees: one training image of each of the first classes,
// its crops of the first epochs under the run's default crop scale, one row per rotation.
// Usage: npx tsx scripts/turned-crops.ts [--data PATH] [--rotate 0,15,30,45] [--classes 3]
//          [--epochs 8] [--out results/turned-crops.png]
import { Command } from "commander";
import { cropFor, cropResize, defaultCropSchedule } from "../shared/crop-schedule/index.ts";
import { loadDataset, pixelScale, pixelsPerImage } from "../gpu-cluster/data/index.ts";
import { mirrorAsymmetry } from "../gpu-cluster/data/mirror.ts";
import { int, intList } from "../gpu-cluster/cli/number-args.ts";
import { writeGridPng } from "../gpu-cluster/io/png.ts";

const o = new Command("turned-crops")
  .option("--data <path>", "dataset folder (default: the embedded MNIST)")
  .option("--rotate <list>", "largest rotations in degrees, one row each", intList("--rotate", 0), [0, 15, 30, 45])
  .option("--classes <n>", "classes shown (the first training image of each)", int("--classes", 1), 3)
  .option("--epochs <n>", "crops shown per image (epochs 0..n−1)", int("--epochs", 1), 8)
  .option("--out <file.png>", "grid", "results/turned-crops.png")
  .parse()
  .opts<{ data?: string; rotate: number[]; classes: number; epochs: number; out: string }>();

const train = loadDataset(o.data).train;
const { channels: C, height: S } = train;
if (train.width !== S) throw new Error(`turned-crops: square images only, got ${S}×${train.width}`);
const per = pixelsPerImage(train);
const scale = pixelScale(train.images);
const flipProb = mirrorAsymmetry(train).flip ? 0.5 : 0;
const images = Array.from({ length: Math.min(o.classes, train.classes.length) }, (_, k) => {
  const i = train.labels.indexOf(k);
  return Float32Array.from(train.images.subarray(i * per, (i + 1) * per), (v) => v * scale);
});
// rows: (image, rotation); columns: the whole image, then its crops of epochs 0..n−1
const cells: Float32Array[] = [];
for (const [k, img] of images.entries())
  for (const rotate of o.rotate) {
    const schedule = defaultCropSchedule({ seed: 0, sourceSize: S, scale: [0.5, 1], flipProb, rotate });
    cells.push(img);
    for (let e = 0; e < o.epochs; e++) cells.push(cropResize(img, C, S, S, cropFor(schedule, e, k), S));
  }
const grid = new Float32Array(cells.length * per);
cells.forEach((c, i) => grid.set(c, i * per));
writeGridPng(o.out, grid, cells.length, C, S, S, o.epochs + 1);
console.log(`${o.out}: ${images.length} images × rotations ${o.rotate.join(", ")}°, ${o.epochs} crops each`);
