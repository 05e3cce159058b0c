// A copy of an IDX dataset whose training images are quantised to `bits` bits per pixel (2^bits
// uniform grey levels), the test images untouched: the bit-depth probe of docs/ablations.md asks
// whether ⌊8 / bits⌋ quantised images per class train a student better than one 8-bit image in
// the same bytes (a bit-depth multi-formation). Writes <out>/ with the four IDX files (the
// training images uncompressed), each through a temporary name.
// Usage: npx tsx scripts/quantised-copy.ts --data DIR --bits 4 --out DIR
import { copyFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { Command } from "commander";
import { readIdx } from "../gpu-cluster/data/idx.ts";
import { findIdxFiles } from "../gpu-cluster/data/idx-dataset.ts";
import { writeFileAtomic } from "../gpu-cluster/io/atomic-write.ts";
import { quantiseBytes } from "../shared/image-bits.ts";

const program = new Command("quantised-copy")
  .requiredOption("--data <dir>", "an IDX dataset folder (MNIST layout)")
  .requiredOption("--bits <b>", "bits per training pixel, 1 to 7", (s) => {
    const b = Number(s);
    if (!Number.isInteger(b) || b < 1 || b > 7) throw new Error(`--bits ${s}: give a whole number from 1 to 7`);
    return b;
  })
  .requiredOption("--out <dir>", "the copy's folder")
  .parse();
const o = program.opts<{ data: string; bits: number; out: string }>();
const files = findIdxFiles(o.data);
if (!files) throw new Error(`--data ${o.data}: no IDX files there; give a folder in the MNIST layout`);
mkdirSync(o.out, { recursive: true });
for (const f of [files.trainLabels, files.valImages, files.valLabels]) copyFileSync(f, join(o.out, basename(f)));
// the loader's parser: gzip or not, unsigned bytes, a complete file (else its error names the fix)
const { dims, data } = readIdx(files.trainImages);
const header = Buffer.alloc(4 + 4 * dims.length);
header.set([0, 0, 0x08, dims.length]);
dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
// each pixel to the nearest of 2^bits levels evenly spaced over 0..255
const levels = (1 << o.bits) - 1;
const quantised = quantiseBytes(data, o.bits);
writeFileAtomic(join(o.out, basename(files.trainImages).replace(/\.gz$/, "")), Buffer.concat([header, quantised]));
console.log(`${o.out}: training images at ${o.bits} bits (${levels + 1} levels), test images as they were`);
