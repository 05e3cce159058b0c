// Probe of IDC's multi-formation (Kim et al., ICML 2022) on random real images: each stored image
// holds a factor × factor mosaic of downsampled images of its class, and training decodes every
// patch back to full size (bilinear). This writes the decoded set — factor² random real images per
// stored image, each downsampled and upsampled — over a run folder's images.npy, so that `distill
// relabel` and `distill evaluate` (with --ipc = stored IPC × factor²) train students on it.
// Result and commands: docs/ablations.md ("Multi-formation").
// Usage: npx tsx scripts/multi-formation-probe.ts RUN/images.npy --ipc 1 --seed 0 [--factor 2] [--data PATH]
import { Command } from "commander";
import { loadDataset } from "../gpu-cluster/data/load.ts";
import { resizeBilinear } from "../gpu-cluster/data/resize.ts";
import { randomRealSubset } from "../gpu-cluster/stages/random-subset.ts";
import { writeNpy } from "../gpu-cluster/io/npy.ts";

const program = new Command("multi-formation-probe")
  .argument("<images.npy>", "where the decoded set goes")
  .requiredOption("--ipc <n>", "stored images per class", Number)
  .requiredOption("--seed <s>", "seed of the random real images", Number)
  .option("--factor <f>", "patches per side of a stored image", Number, 2)
  .option("--data <path>", "dataset folder (default: the embedded MNIST)")
  .parse();
const o = program.opts<{ ipc: number; seed: number; factor: number; data?: string }>();
const f = o.factor;
const { train } = loadDataset(o.data, { seed: o.seed });
const set = randomRealSubset(train, o.ipc * f * f, o.seed, "multi-formation");
const { channels: C, size: H } = set;
const per = C * H * H;
const h = Math.round(H / f);
const decoded = new Float32Array(set.count * per);
for (let i = 0; i < set.count; i++) {
  const small = resizeBilinear(set.pixels.subarray(i * per, (i + 1) * per), C, H, H, h, h);
  decoded.set(resizeBilinear(small, C, h, h, H, H), i * per);
}
writeNpy(program.args[0], { data: decoded, shape: [set.count, C, H, H] });
console.log(`${set.count} decoded images (${h}×${h} → ${H}×${H}): ${o.ipc} stored per class × ${f * f}`);
