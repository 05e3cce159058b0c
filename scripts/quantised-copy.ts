// A copy of an IDX dataset whose training images are quantised to `bits` bits per pixel (2^bits
// uniform grey levels), the test images untouched: the bit-depth probe of docs/ablations.md asks
// whether ⌊8 / bits⌋ quantised images per class train a student better than one 8-bit image in
// the same bytes (a bit-depth multi-formation). Writes <out>/ with the four IDX files (the
// training images uncompressed), each through a temporary name.
// Usage: npx tsx scripts/quantised-copy.ts --data DIR --bits 4 --out DIR
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Command } from "commander";
import { findIdxFiles } from "../gpu-cluster/data/idx-dataset.ts";
import { writeFileAtomic } from "../gpu-cluster/io/atomic-write.ts";

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
const raw = readFileSync(files.trainImages);
const idx = files.trainImages.endsWith(".gz") ? gunzipSync(raw) : raw;
const dims = idx[3];
const header = 4 + 4 * dims;
// each pixel to the nearest of 2^bits levels evenly spaced over 0..255
const levels = (1 << o.bits) - 1;
const out = Buffer.from(idx);
for (let i = header; i < out.length; i++) out[i] = Math.round((Math.round((idx[i] * levels) / 255) * 255) / levels);
writeFileAtomic(join(o.out, basename(files.trainImages).replace(/\.gz$/, "")), out);
console.log(`${o.out}: training images at ${o.bits} bits (${levels + 1} levels), test images as they were`);
