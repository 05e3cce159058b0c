// Random label tables for the WASM tests, written with shared's LabelTableWriter.
import fc from "fast-check";
import { LabelTableWriter, QUANT_F16, QUANT_U8 } from "../../shared/label-table/index.ts";
import { uniform } from "../../shared/random.ts";
import { buildWasm } from "../../wasm-tools/build.ts";
import { loadLabelStats } from "../../wasm-tools/node/load.ts";
import type { LabelStatsModule } from "../../wasm-tools/src/label-stats.ts";

export interface TableSpec {
  classes: number;
  ipc: number;
  epochs: number;
  epochStart: number;
  epochCount: number;
  cropsPerImage: number;
  k: number;
  quant: number;
  hasBox: boolean;
  seed: number;
  /** Softmax temperature of the random logits: small = peaked labels, large = flat. */
  temperature: number;
  /** Probability that a crop's label peaks on its image's target class. */
  agreement: number;
}

export const tableSpec: fc.Arbitrary<TableSpec> = fc
  .record({
    classes: fc.integer({ min: 1, max: 24 }),
    ipc: fc.integer({ min: 1, max: 4 }),
    epochs: fc.integer({ min: 1, max: 3 }),
    startFrac: fc.double({ min: 0, max: 0.999, noNaN: true }),
    cropsPerImage: fc.integer({ min: 1, max: 2 }),
    kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    quant: fc.constantFrom(QUANT_U8, QUANT_F16),
    hasBox: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    temperature: fc.double({ min: 0.05, max: 5, noNaN: true }),
    agreement: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((r) => {
    const epochStart = Math.floor(r.startFrac * r.epochs);
    return {
      classes: r.classes,
      ipc: r.ipc,
      epochs: r.epochs,
      epochStart,
      epochCount: r.epochs - epochStart,
      cropsPerImage: r.cropsPerImage,
      k: 1 + Math.floor(r.kFrac * (Math.min(r.classes, 255) - 1) + 0.5),
      quant: r.quant,
      hasBox: r.hasBox,
      seed: r.seed,
      temperature: r.temperature,
      agreement: r.agreement,
    };
  });

/** Teacher-like soft labels: softmax of random logits, boosted on the target class with probability `agreement`. */
export function makeTable(s: TableSpec): Uint8Array {
  const images = s.classes * s.ipc;
  const w = new LabelTableWriter({
    classes: s.classes,
    images,
    epochs: s.epochs,
    epochStart: s.epochStart,
    epochCount: s.epochCount,
    cropsPerImage: s.cropsPerImage,
    k: s.k,
    quant: s.quant,
    seed: s.seed,
    runId: "test-run",
    hasBox: s.hasBox,
  });
  const crops = images * s.cropsPerImage;
  for (let e = s.epochStart; e < s.epochStart + s.epochCount; e++) {
    const probs = new Float32Array(crops * s.classes);
    const boxes = [];
    for (let r = 0; r < crops; r++) {
      const row = probs.subarray(r * s.classes, (r + 1) * s.classes);
      const u = (c: number) => uniform(s.seed, 7, e, r, c);
      for (let c = 0; c < s.classes; c++) row[c] = (u(c) * 4) / s.temperature;
      // peak on a random class with probability `agreement` (agreement with the target then varies)
      if (u(s.classes) < s.agreement) row[Math.floor(u(s.classes + 1) * s.classes)] += 5 / s.temperature;
      let max = -Infinity;
      for (let c = 0; c < s.classes; c++) max = Math.max(max, row[c]);
      let sum = 0;
      for (let c = 0; c < s.classes; c++) sum += row[c] = Math.exp(row[c] - max);
      for (let c = 0; c < s.classes; c++) row[c] /= sum;
      boxes.push({
        x: Math.floor(u(90) * 30),
        y: Math.floor(u(91) * 30),
        w: 1 + Math.floor(u(92) * 30),
        h: 1 + Math.floor(u(93) * 30),
        flip: u(94) < 0.5,
      });
    }
    w.addEpoch(e, probs, s.hasBox ? boxes : undefined);
  }
  return w.finish();
}

let module: LabelStatsModule | null = null;

/** The built module (built first if missing or older than its sources). */
export async function labelStats(): Promise<LabelStatsModule> {
  if (!module) {
    await buildWasm(true);
    module = loadLabelStats();
  }
  return module;
}
