// A small run folder laid out as `distill run` writes one (manifest.json, labels.dlt,
// images/000000.png …), made directly: teacher-like random soft labels (peaked on the target
// class with probability `agreement`) and random gray images, in well under a second.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode } from "fast-png";
import { batchOrder, cropFor, defaultCropSchedule } from "../../shared/crop-schedule/index.ts";
import { LabelTableWriter, QUANT_F16, QUANT_U8 } from "../../shared/label-table/index.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { uniform } from "../../shared/random.ts";

export interface RunSpec {
  classes: number;
  ipc: number;
  epochs: number;
  cropsPerImage: number;
  k: number;
  quant: "u8" | "f16";
  /** Crop boxes stored in the table (as the relabel stage does) or derived from the schedule. */
  hasBox: boolean;
  seed: number;
  size: number;
  agreement: number;
  /** The crop schedule's largest turn in degrees (absent: unturned crops). */
  rotate?: number;
}

export const SMALL_RUN: RunSpec = {
  classes: 5,
  ipc: 3,
  epochs: 3,
  cropsPerImage: 2,
  k: 3,
  quant: "u8",
  hasBox: false,
  seed: 77,
  size: 16,
  agreement: 0.7,
};

export function makeRunFolder(dir: string, s: RunSpec): { manifest: RunManifest; table: Uint8Array } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "images"), { recursive: true });
  const images = s.classes * s.ipc;
  const schedule = defaultCropSchedule({ seed: s.seed, sourceSize: s.size, outputSize: s.size, rotate: s.rotate });
  const manifest = parseManifest({
    version: 1,
    runId: "inspect-test",
    createdAt: "2026-11-25T00:00:00.000Z",
    dataset: {
      name: "random-gray",
      classes: s.classes,
      channels: 1,
      height: s.size,
      width: s.size,
      classNames: Array.from({ length: s.classes }, (_, c) => `c${c}`),
    },
    ipc: s.ipc,
    images,
    resolution: s.size,
    relabel: { epochs: s.epochs, cropsPerImage: s.cropsPerImage, k: s.k, quant: s.quant, temperature: 1, schedule },
    seeds: { run: s.seed },
    teacher: { id: "random", arch: "none" },
  });
  const w = new LabelTableWriter({
    classes: s.classes,
    images,
    epochs: s.epochs,
    cropsPerImage: s.cropsPerImage,
    k: s.k,
    quant: s.quant === "u8" ? QUANT_U8 : QUANT_F16,
    seed: s.seed,
    runId: manifest.runId,
    hasBox: s.hasBox,
  });
  for (let e = 0; e < s.epochs; e++) {
    const order = batchOrder(s.seed, e, images);
    const crops = images * s.cropsPerImage;
    const probs = new Float32Array(crops * s.classes);
    const boxes = [];
    for (let r = 0; r < crops; r++) {
      const image = order[Math.floor(r / s.cropsPerImage)];
      const u = (c: number) => uniform(s.seed, 11, e, r, c);
      const row = probs.subarray(r * s.classes, (r + 1) * s.classes);
      for (let c = 0; c < s.classes; c++) row[c] = u(c) * 3;
      const peak = u(s.classes) < s.agreement ? Math.floor(image / s.ipc) : Math.floor(u(s.classes + 1) * s.classes);
      row[peak] += 3;
      let sum = 0;
      for (let c = 0; c < s.classes; c++) sum += row[c] = Math.exp(row[c]);
      for (let c = 0; c < s.classes; c++) row[c] /= sum;
      boxes.push(cropFor(schedule, e, image, r % s.cropsPerImage));
    }
    w.addEpoch(e, probs, s.hasBox ? boxes : undefined);
  }
  const table = w.finish();
  writeFileSync(join(dir, "labels.dlt"), table);
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  for (let i = 0; i < images; i++) {
    const px = new Uint8Array(s.size * s.size);
    for (let p = 0; p < px.length; p++) px[p] = Math.floor(uniform(s.seed, 12, i, p) * 256);
    writeFileSync(
      join(dir, "images", `${String(i).padStart(6, "0")}.png`),
      encode({ width: s.size, height: s.size, data: px, channels: 1, depth: 8 }),
    );
  }
  return { manifest, table };
}
