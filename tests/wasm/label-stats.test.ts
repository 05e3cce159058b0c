// The WASM statistics equal the TypeScript reference exactly, on random tables, whole or
// streamed in random chunks, and over random record ranges.
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { batchOrder } from "../../shared/crop-schedule/index.ts";
import { QUANT_F16, QUANT_U8, decodeLabelTable, recordsStart } from "../../shared/label-table/index.ts";
import { readFileSync } from "node:fs";
import { LabelStatsModule } from "../../wasm-tools/src/label-stats.ts";
import { WASM_PATH } from "../../wasm-tools/node/load.ts";
import { referenceStats } from "../../wasm-tools/src/reference.ts";
import { ln } from "../../wasm-tools/src/ln.ts";
import { labelStats, makeTable, tableSpec } from "./tables.ts";

let wasm: LabelStatsModule;
beforeAll(async () => {
  wasm = await labelStats();
});

describe("label-stats WASM module", () => {
  test("ln agrees with Math.log to 1e-12 relative", () => {
    for (const x of [1e-300, 5e-324, 2 ** -24, 1 / 255, 0.5, 0.999, 1, 1.5, Math.SQRT2, 2, 1000, 65535, 1e300]) {
      expect(Math.abs(ln(x) - Math.log(x))).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(Math.log(x))));
    }
    expect(ln(1)).toBe(0);
  });

  test("whole table: equals the reference bit for bit", () => {
    fc.assert(
      fc.property(tableSpec, fc.integer({ min: 1, max: 40 }), (spec, bins) => {
        const bytes = makeTable(spec);
        expect(wasm.inspect(bytes, { bins })).toEqual(referenceStats(bytes, { bins }));
      }),
      { numRuns: 60 },
    );
  });

  test("confusion cells past 255 counts (the module keeps u8 low bytes + a u32 carry matrix)", () => {
    for (const quant of [QUANT_U8, QUANT_F16]) {
      const spec = {
        classes: 2,
        ipc: 400,
        epochs: 3,
        epochStart: 0,
        epochCount: 3,
        cropsPerImage: 1,
        k: 2,
        quant,
        hasBox: false,
        seed: 9,
        temperature: 0.2,
        agreement: 1,
      };
      const bytes = makeTable(spec);
      const got = wasm.inspect(bytes),
        ref = referenceStats(bytes);
      expect(got).toEqual(ref);
      expect(Math.min(got.confusion![1], got.confusion![2])).toBeGreaterThan(300);
    }
  });

  test("the module's own CRC-32 (browsers) and node:zlib's (Node loader) give the same results and the same EPOCH_CHECKSUM", () => {
    const own = LabelStatsModule.loadSync(readFileSync(WASM_PATH));
    fc.assert(
      fc.property(tableSpec, fc.integer({ min: 0, max: 1 << 30 }), (spec, at) => {
        const bytes = makeTable(spec);
        expect(own.inspect(bytes)).toEqual(wasm.inspect(bytes));
        const h = decodeLabelTable(bytes).header;
        const bad = bytes.slice();
        const i = recordsStart(h) + (at % (bytes.length - recordsStart(h)));
        bad[i] ^= 0x10;
        for (const m of [own, wasm]) expect(() => m.inspect(bad)).toThrow(/EPOCH_CHECKSUM/);
      }),
      { numRuns: 30 },
    );
  });

  test("streamed in random chunks: same result as whole", () => {
    fc.assert(
      fc.property(
        tableSpec,
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        (spec, cuts) => {
          const bytes = makeTable(spec);
          const s = wasm.stream({}, bytes.length);
          let o = 0;
          for (let i = 0; o < bytes.length; i++) {
            const n = cuts[i % cuts.length];
            s.push(bytes.subarray(o, o + n));
            o += n;
          }
          expect(s.finish()).toEqual(referenceStats(bytes));
        },
      ),
      { numRuns: 40 },
    );
  });

  test("record ranges: statistics of a slot range equal a direct count", () => {
    fc.assert(
      fc.property(
        tableSpec,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (spec, a, b) => {
          const bytes = makeTable(spec);
          const table = decodeLabelTable(bytes);
          const h = table.header;
          const total = h.images * h.cropsPerImage * h.epochCount;
          // a = b = 1 must still give a range inside the table (its last record)
          const first = Math.min(total - 1, Math.floor(Math.min(a, b) * total)),
            last = Math.min(total, Math.max(first + 1, Math.ceil(Math.max(a, b) * total)));
          const r = wasm.ranges(bytes.subarray(0, 64));
          r.add(
            recordsStart(h) + first * h.recordSize,
            bytes.subarray(recordsStart(h) + first * h.recordSize, recordsStart(h) + last * h.recordSize),
          );
          const got = r.finish();
          // direct count from shared's decoder: crops, top-1 agreement and per-class counts
          const perEpoch = h.images * h.cropsPerImage;
          let agree = 0;
          const classCrops = new Array(h.classes).fill(0);
          for (let i = first; i < last; i++) {
            const e = Math.floor(i / perEpoch),
              slot = Math.floor((i % perEpoch) / h.cropsPerImage),
              crop = i % h.cropsPerImage;
            const target = Math.floor(batchOrder(h.seed, h.epochStart + e, h.images)[slot] / spec.ipc);
            classCrops[target]++;
            if (table.record(h.epochStart + e, slot, crop).ids[0] === target) agree++;
          }
          expect(got.crops).toBe(last - first);
          expect(got.agreement).toBeCloseTo(agree / (last - first), 12);
          expect(got.classCrops).toEqual(classCrops);
        },
      ),
      { numRuns: 40 },
    );
  });
});
