// Corrupt tables: the WASM path reports the same SPEC error code as shared's decoder, never a
// trap, a hang or a silent result.
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { crc32 } from "../../shared/checksum.ts";
import { LabelTableError, decodeLabelTable, decodeRecords, recordsStart } from "../../shared/label-table/index.ts";
import type { LabelStatsModule } from "../../wasm-tools/src/label-stats.ts";
import { labelStats, makeTable, tableSpec } from "./tables.ts";

let wasm: LabelStatsModule;
beforeAll(async () => {
  wasm = await labelStats();
});

/** The error code a call throws, or "OK"; anything but a LabelTableError fails the test. */
function outcome(f: () => unknown): string {
  try {
    f();
    return "OK";
  } catch (e) {
    if (!(e instanceof LabelTableError)) throw e;
    expect(e.message).toMatch(new RegExp(`^label table ${e.code}: .{10,}`));
    return e.code;
  }
}

/** Recomputes every checksum from the (possibly edited) header fields, so deeper checks run. */
function reseal(b: Uint8Array): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const epochCount = v.getUint32(24, true),
    images = v.getUint32(12, true),
    cpi = v.getUint16(28, true),
    rs = v.getUint16(34, true);
  const start = 64 + 4 * epochCount;
  const per = images * cpi * rs;
  if (epochCount >= 1 && epochCount < 1000 && start + epochCount * per <= b.length) {
    for (let e = 0; e < epochCount; e++)
      v.setUint32(64 + 4 * e, crc32(b.subarray(start + e * per, start + (e + 1) * per)), true);
    v.setUint32(56, crc32(b.subarray(64, start)), true);
  }
  v.setUint32(60, crc32(b.subarray(0, 60)), true);
  return b;
}

const mutation = fc.array(
  fc.record({ at: fc.integer({ min: 0, max: 0x7fffffff }), value: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 4 },
);

function mutate(bytes: Uint8Array, edits: { at: number; value: number }[], headerOnly: boolean): Uint8Array {
  const b = bytes.slice();
  for (const m of edits) b[m.at % (headerOnly ? 64 : b.length)] = m.value;
  return b;
}

function sameOutcome(b: Uint8Array): void {
  const expected = outcome(() => decodeLabelTable(b));
  expect(outcome(() => wasm.inspect(b))).toBe(expected);
  // streamed with the size known: same code
  expect(
    outcome(() => {
      const s = wasm.stream({}, b.length);
      for (let o = 0; o < b.length; o += 97) s.push(b.subarray(o, o + 97));
      return s.finish();
    }),
  ).toBe(expected);
}

describe("corrupt label tables", () => {
  test("random byte edits: same code as shared's decoder", () => {
    fc.assert(
      fc.property(tableSpec, mutation, fc.boolean(), (spec, edits, headerOnly) =>
        sameOutcome(mutate(makeTable(spec), edits, headerOnly)),
      ),
      { numRuns: 150 },
    );
  });

  test("random byte edits with checksums recomputed: header and record checks", () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(tableSpec, mutation, fc.boolean(), (spec, edits, headerOnly) => {
        const b = reseal(mutate(makeTable(spec), edits, headerOnly));
        sameOutcome(b);
        codes.add(outcome(() => decodeLabelTable(b)));
      }),
      { numRuns: 300 },
    );
    console.log("codes reached with checksums recomputed:", [...codes].sort().join(" "));
    // the property reached the deep checks, not only the checksums
    expect([...codes]).toEqual(expect.arrayContaining(["BAD_RECORD", "BAD_HEADER", "OK"]));
  });

  test("truncated or extended: TRUNCATED / TRAILING_BYTES, also when streamed without a size", () => {
    fc.assert(
      fc.property(
        tableSpec,
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 50 }),
        (spec, cut, extra) => {
          const full = makeTable(spec);
          const short = full.subarray(0, Math.floor(cut * full.length));
          const long = new Uint8Array(full.length + extra);
          long.set(full);
          sameOutcome(short);
          sameOutcome(long);
          expect(
            outcome(() => {
              const s = wasm.stream();
              s.push(short);
              return s.finish();
            }),
          ).toBe("TRUNCATED");
          expect(
            outcome(() => {
              const s = wasm.stream();
              s.push(long);
              return s.finish();
            }),
          ).toBe("TRAILING_BYTES");
        },
      ),
      { numRuns: 60 },
    );
  });

  test("each record check by name", () => {
    const spec = {
      classes: 10,
      ipc: 2,
      epochs: 2,
      epochStart: 0,
      epochCount: 2,
      cropsPerImage: 1,
      k: 3,
      quant: 2,
      hasBox: true,
      seed: 9,
      temperature: 1,
      agreement: 0.5,
    };
    const base = makeTable(spec);
    const rec = 64 + 8 + 5 * 21; // record 5 of epoch 0 (record size 2·3 + 3·2 + 9 = 21)
    const edit = (f: (v: DataView) => void) => {
      const b = base.slice();
      f(new DataView(b.buffer, rec));
      return reseal(b);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ["id ≥ C", edit((v) => v.setUint16(0, 10, true)), /record 5: class id 10/],
      ["duplicate id", edit((v) => v.setUint16(2, v.getUint16(0, true), true)), /appears twice/],
      ["probability > 1", edit((v) => v.setUint16(6, 0x3c01, true)), /not in \[0, 1\]/],
      ["NaN probability", edit((v) => v.setUint16(6, 0x7e00, true)), /not in \[0, 1\]/],
      [
        "ascending",
        edit((v) => {
          v.setUint16(6, 0x3000, true);
          v.setUint16(8, 0x3400, true);
        }),
        /descending/,
      ],
      [
        "sum > 1",
        edit((v) => {
          v.setUint16(6, 0x3a00, true);
          v.setUint16(8, 0x3a00, true);
          v.setUint16(10, 0x3a00, true);
        }),
        /sum to 2\.25/,
      ],
      ["flip byte", edit((v) => v.setUint8(20, 2)), /flip byte 2/],
    ];
    for (const [name, b, message] of cases) {
      expect(() => decodeLabelTable(b), name).toThrow(LabelTableError);
      let err: unknown;
      try {
        wasm.inspect(b);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(LabelTableError);
      expect((err as LabelTableError).code, name).toBe("BAD_RECORD");
      expect((err as LabelTableError).message, name).toMatch(message);
    }
  });

  test("one bad record anywhere in a long run (blocks of the fast path): the same record index and statistics up to it", () => {
    const spec = {
      classes: 12,
      ipc: 9,
      epochs: 1,
      epochStart: 0,
      epochCount: 1,
      cropsPerImage: 1,
      k: 4,
      quant: 1,
      hasBox: false,
      seed: 3,
      temperature: 1,
      agreement: 0.6,
    };
    const base = makeTable(spec);
    const h = decodeLabelTable(base).header;
    const start = recordsStart(h),
      n = h.images;
    for (let bad = 0; bad < n; bad++)
      for (const kind of ["duplicate", "range", "order"]) {
        const b = base.slice();
        const v = new DataView(b.buffer, start + bad * h.recordSize);
        if (kind === "duplicate") v.setUint16(2, v.getUint16(0, true), true);
        else if (kind === "range") v.setUint16(4, 12, true);
        else v.setUint8(2 * h.k + 1, v.getUint8(2 * h.k) + 1); // top probability < 255 in this table
        const records = b.subarray(start);
        const index = (e: unknown) => Number(/record (\d+):/.exec((e as Error).message)?.[1]);
        let expected: unknown, got: unknown;
        try {
          decodeRecords(h, records, n);
        } catch (e) {
          expected = e;
        }
        const r = wasm.ranges(b.subarray(0, 64));
        try {
          r.add(start, records);
        } catch (e) {
          got = e;
        }
        expect(index(got)).toBe(bad);
        expect(index(expected)).toBe(bad);
        // the records before the bad one were counted, and only those
        expect(r.finish().crops).toBe(bad);
      }
  });

  test("ranges: misaligned or outside the records → OUT_OF_RANGE", () => {
    const b = makeTable({
      classes: 4,
      ipc: 2,
      epochs: 1,
      epochStart: 0,
      epochCount: 1,
      cropsPerImage: 1,
      k: 2,
      quant: 1,
      hasBox: false,
      seed: 1,
      temperature: 1,
      agreement: 1,
    });
    const r = wasm.ranges(b.subarray(0, 64));
    expect(outcome(() => r.add(69, b.subarray(69, 75)))).toBe("OUT_OF_RANGE");
    expect(outcome(() => r.add(68, b.subarray(68, 75)))).toBe("OUT_OF_RANGE");
    expect(outcome(() => r.add(68 + 6 * 8, b.subarray(68, 74)))).toBe("OUT_OF_RANGE");
    expect(outcome(() => r.add(68, b.subarray(68, 74)))).toBe("OK");
  });
});
