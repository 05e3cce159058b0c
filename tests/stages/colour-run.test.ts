// The whole default pipeline on colour images: the defaults are decided from what the loader
// reads (channels, size, classes), so `distill run --data` on an RGB image folder must run every
// stage with nothing but small-budget flags, keep the three channels through images, grid, packed
// file, label table and manifest, and train students well above chance. The classes here differ
// by colour and by side (left or right), so a horizontal flip is not label-preserving: the data
// check must turn flips off.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../gpu-cluster/data/index.ts";
import { decodeImage } from "../../gpu-cluster/data/image-decode.ts";
import { readNpy } from "../../gpu-cluster/io/npy.ts";
import { writePng } from "../../gpu-cluster/io/png.ts";
import { parseReport } from "../../gpu-cluster/cli/report.ts";
import { parseManifest } from "../../shared/manifest.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { unpackImages } from "../../shared/image-bits.ts";

const root = join(process.cwd(), "test-output", "colour-run");
const data = join(root, "rgb");
const out = join(root, "run");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
const SIZE = 12;
const PER_CLASS = 40;
// class c: a patch of colour COLOURS[c >> 1] on the left (c even) or right (c odd) half
const COLOURS = [
  [0.9, 0.15, 0.1],
  [0.1, 0.3, 0.9],
];

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  const rng = new Random(11);
  for (let c = 0; c < 4; c++) {
    mkdirSync(join(data, `class${c}`), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      const px = new Float32Array(3 * SIZE * SIZE);
      const top = rng.int(SIZE / 2);
      for (let ch = 0; ch < 3; ch++)
        for (let y = 0; y < SIZE; y++)
          for (let x = 0; x < SIZE; x++) {
            const inside = x < SIZE / 2 === (c % 2 === 0) && y >= top && y < top + SIZE / 2;
            const v = (inside ? COLOURS[c >> 1][ch] : 0.45) + 0.08 * rng.normal();
            px[(ch * SIZE + y) * SIZE + x] = Math.min(1, Math.max(0, v));
          }
      writePng(join(data, `class${c}`, `${i}.png`), { data: px, channels: 3, height: SIZE, width: SIZE });
    }
  }
});

describe("distill run on an RGB image folder, with the defaults", () => {
  it("runs every stage in colour; flips off for side-dependent classes; students above chance", () => {
    const r = spawnSync(
      tsx,
      [
        "gpu-cluster/cli/distill.ts",
        "run",
        ...["--data", data, "--out", out, "--ipc", "2"],
        // budgets only: every other choice is the default's, decided from the data
        ...["--teacher-arch", "convnet-2", "--teacher-width", "8", "--teacher-epochs", "15"],
        ...["--iterations", "20", "--recover-batch", "8", "--epochs", "100"],
        ...[
          "--students",
          "convnet-2",
          "--student-width",
          "8",
          "--student-batch",
          "4",
          "--student-lr",
          "0.01",
          "--threads",
          "1",
          "--quiet",
        ],
      ],
      { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } },
    );
    expect(r.status, r.stderr).toBe(0);
    const images = readNpy(join(out, "images.npy"));
    const [n, channels, h, w] = images.shape;
    expect([channels, h, w]).toEqual([3, SIZE, SIZE]);
    expect(n % 4).toBe(0);
    // auto's depth decides whether a packed file exists; where it does, it holds the same images
    const recover = JSON.parse(readFileSync(join(out, "recover.json"), "utf8"));
    expect(r.stderr).toMatch(/image bits: /);
    if (existsSync(join(out, "images.dpk"))) {
      const packed = unpackImages(new Uint8Array(readFileSync(join(out, "images.dpk"))));
      expect(packed.shape).toEqual(images.shape);
      expect(packed.bits).toBe(recover.image_bits);
      const stored = images.data as Float32Array;
      for (let i = 0; i < stored.length; i++) expect(packed.pixels[i]).toBeCloseTo(stored[i], 6);
    }
    // the grid and each image file are colour PNGs
    const grid = decodeImage(new Uint8Array(readFileSync(join(out, "grid.png"))), "grid.png");
    expect(grid.channels).toBe(3);
    const first = decodeImage(new Uint8Array(readFileSync(join(out, "images", "000000.png"))), "000000.png");
    expect([first.channels, first.height, first.width]).toEqual([3, SIZE, SIZE]);
    // classes that differ by side: the mirror check turns the flip off in recover and relabel
    const stages = JSON.parse(readFileSync(join(out, "stages.json"), "utf8")).stages;
    expect(stages.recover.config.flipProb).toBe(0);
    const manifest = parseManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    expect(manifest.images).toBe(n);
    const table = decodeLabelTable(new Uint8Array(readFileSync(join(out, "labels.dlt"))));
    expect(table.header.images).toBe(n);
    const report = parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(report.classes).toBe(4);
    expect(report.teacher_accuracy).toBeGreaterThan(0.9);
    const s = report.students["convnet-2"];
    for (const v of [s.distilled, s.random_soft]) expect(v).toBeGreaterThan(0.7); // chance is 0.25
  });
});
