// Label tables: byte-exact round trips, offsets computed where the writer put the records,
// and every corruption detected with its documented code (property-based, fast-check).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  batchRange,
  decodeHeader,
  decodeLabelTable,
  decodeRecords,
  encodeLabelTable,
  LabelTableError,
  LabelTableWriter,
  QUANT_F16,
  QUANT_U8,
  quantizeTopK,
  recordOffset,
  reconstructDense,
  type WriterFields,
} from "../../shared/label-table/index.ts";
import { crc32 } from "../../shared/checksum.ts";
import { uniform } from "../../shared/random.ts";

/** Teacher-like probabilities: softmax of random logits with one dominant class. */
function probsFor(seed: number, n: number, classes: number, sharp = 3): Float32Array {
  const out = new Float32Array(n * classes);
  for (let r = 0; r < n; r++) {
    const top = Math.floor(uniform(seed, r, 0) * classes);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const z = 2 * (uniform(seed, r, k + 1) - 0.5) + (k === top ? sharp : 0);
      sum += out[r * classes + k] = Math.exp(z);
    }
    for (let k = 0; k < classes; k++) out[r * classes + k] /= sum;
  }
  return out;
}

const tableArb = fc
  .record({
    classes: fc.integer({ min: 1, max: 40 }),
    images: fc.integer({ min: 1, max: 12 }),
    epochs: fc.integer({ min: 1, max: 4 }),
    cropsPerImage: fc.integer({ min: 1, max: 3 }),
    kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    quant: fc.constantFrom(QUANT_U8, QUANT_F16),
    hasBox: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => ({ ...r, k: Math.max(1, Math.min(r.classes, 255, Math.round(r.kFrac * r.classes))), runId: "run_1" }));

function build(f: WriterFields & { hasBox: boolean }) {
  const crops = f.images * f.cropsPerImage;
  const epochs = Array.from({ length: f.epochs }, (_, e) => probsFor(f.seed + e, crops, f.classes));
  const boxes = f.hasBox
    ? epochs.map((_, e) => Array.from({ length: crops }, (_, i) => ({ x: i, y: e, w: 3 + i, h: 4, flip: i % 2 === 1 })))
    : undefined;
  return { bytes: encodeLabelTable(f, epochs, boxes), epochs, boxes };
}

describe("label table round trip", () => {
  it("decodes what was written: top-k ids, quantised probabilities, boxes; offsets are computed", () => {
    fc.assert(
      fc.property(tableArb, (f) => {
        const { bytes, epochs, boxes } = build(f);
        const t = decodeLabelTable(bytes);
        expect(t.header).toMatchObject({
          classes: f.classes,
          images: f.images,
          epochs: f.epochs,
          k: f.k,
          quant: f.quant,
          seed: f.seed,
          runId: "run_1",
        });
        for (let e = 0; e < f.epochs; e++) {
          for (let s = 0; s < f.images; s++) {
            for (let c = 0; c < f.cropsPerImage; c++) {
              const row = s * f.cropsPerImage + c;
              const want = quantizeTopK(epochs[e].subarray(row * f.classes, (row + 1) * f.classes), f.k, f.quant);
              const got = t.record(e, s, c);
              expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
              expect(Array.from(got.probs)).toEqual(Array.from(want.probs));
              if (boxes) expect(got.boxes![0]).toEqual(boxes[e][row]);
              // The record is where the layout says: decoding the bytes at recordOffset gives it.
              const off = recordOffset(t.header, e, s, c);
              expect(decodeRecords(t.header, bytes.subarray(off, off + t.header.recordSize), 1).ids).toEqual(got.ids);
            }
          }
        }
        // A batch of slots is one contiguous range.
        const r = batchRange(t.header, 0, 0, f.images);
        expect(r.length).toBe(f.images * f.cropsPerImage * t.header.recordSize);
        // Re-encoding gives the same bytes.
        expect(Buffer.from(build(f).bytes).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("dense reconstruction sums to 1 and keeps the top-k", () => {
    const p = probsFor(1, 1, 20);
    const q = quantizeTopK(p, 5, QUANT_F16);
    const d = reconstructDense(q.ids, q.probs, 5, 20);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(d[q.ids[0]]).toBeCloseTo(p[q.ids[0]], 3);
  });

  it("shards: a table holding epochs 2..3 of 5 answers only for those", () => {
    const w = new LabelTableWriter({
      classes: 4,
      images: 2,
      epochs: 5,
      epochStart: 2,
      epochCount: 2,
      cropsPerImage: 1,
      k: 2,
      quant: QUANT_U8,
      seed: 1,
      runId: "s",
    });
    w.addEpoch(2, probsFor(1, 2, 4));
    w.addEpoch(3, probsFor(2, 2, 4));
    const t = decodeLabelTable(w.finish());
    expect(t.record(3, 1).ids.length).toBe(2);
    expect(() => t.record(1, 0)).toThrow(LabelTableError);
    expect(() => t.record(4, 0)).toThrow(/OUT_OF_RANGE/);
  });
});

function codeOf(bytes: Uint8Array): string {
  try {
    decodeLabelTable(bytes);
    return "OK";
  } catch (e) {
    if (!(e instanceof LabelTableError)) throw e;
    return e.code;
  }
}

/** Rewrites the header CRC so that a field change is seen by the field checks, not the checksum. */
function resealHeader(bytes: Uint8Array): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(60, crc32(bytes.subarray(0, 60)), true);
}

describe("label table corruption", () => {
  it("any flipped byte is detected; the error is a LabelTableError with a documented code", () => {
    fc.assert(
      fc.property(tableArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, pos, mask) => {
        const { bytes } = build(f);
        const bad = bytes.slice();
        bad[pos % bad.length] ^= mask;
        const code = codeOf(bad);
        expect(["BAD_MAGIC", "BAD_VERSION", "HEADER_CHECKSUM", "RECORDS_CHECKSUM", "EPOCH_CHECKSUM"]).toContain(code);
      }),
      { numRuns: 200 },
    );
  });

  it("truncation and trailing bytes", () => {
    fc.assert(
      fc.property(tableArb, fc.nat(), (f, cut) => {
        const { bytes } = build(f);
        expect(codeOf(bytes.subarray(0, cut % bytes.length))).toBe("TRUNCATED");
        const longer = new Uint8Array(bytes.length + 1 + (cut % 7));
        longer.set(bytes);
        expect(codeOf(longer)).toBe("TRAILING_BYTES");
      }),
      { numRuns: 60 },
    );
  });

  it("wrong magic, wrong version, bad header fields, bad records", () => {
    const { bytes } = build({
      classes: 5,
      images: 3,
      epochs: 2,
      cropsPerImage: 1,
      k: 3,
      quant: QUANT_U8,
      seed: 7,
      runId: "x",
      hasBox: false,
    });
    const v = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
    let b = bytes.slice();
    b[0] = 0x50;
    expect(codeOf(b)).toBe("BAD_MAGIC");
    b = bytes.slice();
    v(b).setUint16(4, 2, true);
    expect(codeOf(b)).toBe("BAD_VERSION");
    b = bytes.slice();
    v(b).setUint16(6, 4, true);
    resealHeader(b);
    expect(codeOf(b)).toBe("BAD_FLAGS");
    b = bytes.slice();
    v(b).setUint16(30, 9, true);
    resealHeader(b);
    expect(codeOf(b)).toBe("BAD_HEADER");
    b = bytes.slice();
    v(b).setUint16(34, 99, true);
    resealHeader(b);
    expect(codeOf(b)).toBe("BAD_HEADER");
    b = bytes.slice();
    b[20] = 5;
    resealHeader(b);
    expect(codeOf(b)).toBe("BAD_HEADER");
    // A record with a class id ≥ classes, with the checksums made consistent: BAD_RECORD.
    const h = decodeHeader(bytes);
    b = bytes.slice();
    v(b).setUint16(recordOffset(h, 1, 2), 77, true);
    const start = recordOffset(h, 1, 0),
      per = 3 * h.recordSize;
    v(b).setUint32(64 + 4, crc32(b.subarray(start, start + per)), true);
    v(b).setUint32(56, crc32(b.subarray(64, 72)), true);
    resealHeader(b);
    expect(codeOf(b)).toBe("BAD_RECORD");
    // Not a table at all; an empty file.
    expect(
      codeOf(
        new TextEncoder().encode("hello, I am not a table, but I am long enough to have a header of sixty-four bytes"),
      ),
    ).toBe("BAD_MAGIC");
    expect(codeOf(new Uint8Array(0))).toBe("TRUNCATED");
  });

  it("writer misuse is refused with a message", () => {
    const w = new LabelTableWriter({
      classes: 3,
      images: 2,
      epochs: 2,
      cropsPerImage: 1,
      k: 2,
      quant: QUANT_U8,
      seed: 0,
      runId: "w",
    });
    expect(() => w.addEpoch(1, new Float32Array(6))).toThrow(/expected 0/);
    expect(() => w.addEpoch(0, new Float32Array(5))).toThrow(/expected 2 × 3/);
    expect(() => w.finish()).toThrow(/only 0 of 2/);
    expect(
      () =>
        new LabelTableWriter({
          classes: 3,
          images: 2,
          epochs: 2,
          cropsPerImage: 1,
          k: 4,
          quant: QUANT_U8,
          seed: 0,
          runId: "w",
        }),
    ).toThrow(/k must be/);
    expect(
      () =>
        new LabelTableWriter({
          classes: 3,
          images: 2,
          epochs: 2,
          cropsPerImage: 1,
          k: 2,
          quant: QUANT_U8,
          seed: 0,
          runId: "bad id!",
        }),
    ).toThrow(/run_id/);
  });
});

describe("quantisation error (figures stated in SPEC.md)", () => {
  function measure(classes: number, k: number, quant: number) {
    const n = 2000;
    const p = probsFor(42, n, classes, classes >= 100 ? 6 : 3);
    let kl = 0,
      agree = 0;
    for (let r = 0; r < n; r++) {
      const row = p.subarray(r * classes, (r + 1) * classes);
      const q = quantizeTopK(row, k, quant);
      const d = reconstructDense(q.ids, q.probs, k, classes);
      for (let c = 0; c < classes; c++) if (row[c] > 0) kl += row[c] * Math.log(row[c] / Math.max(d[c], 1e-12));
      let best = 0;
      for (let c = 1; c < classes; c++) if (d[c] > d[best]) best = c;
      let truth = 0;
      for (let c = 1; c < classes; c++) if (row[c] > row[truth]) truth = c;
      if (best === truth) agree++;
    }
    return { kl: kl / n, agree: agree / n };
  }

  it.each([
    [10, 1, QUANT_U8, 0.06],
    [10, 5, QUANT_U8, 0.01],
    [10, 10, QUANT_U8, 0.001],
    [10, 10, QUANT_F16, 0.0001],
    [1000, 1, QUANT_U8, 0.12],
    [1000, 5, QUANT_U8, 0.12],
    [1000, 10, QUANT_U8, 0.12],
    [1000, 10, QUANT_F16, 0.115],
  ])("C = %i, k = %i, quant %i: KL(fp32 ‖ decoded) < %f, top-1 always kept", (classes, k, quant, bound) => {
    const m = measure(classes, k, quant);
    expect(m.kl).toBeLessThan(bound);
    expect(m.agree).toBeGreaterThan(0.99);
  });
});
