// Writes a table epoch by epoch (records in slot order), then assembles header, epoch CRC
// table and records. Relabel produces one epoch at a time, so memory is one epoch of records
// plus the output.
import { crc32 } from "../checksum.ts";
import { FLAG_HAS_BOX, HEADER_BYTES, checkFields, encodeHeader, recordSize, type HeaderFields } from "./header.ts";
import { epochBytes } from "./layout.ts";
import { encodeRecord, type BoxRecord } from "./records.ts";
import { LabelTableError } from "./errors.ts";

export interface WriterFields {
  classes: number;
  images: number;
  epochs: number;
  epochStart?: number;
  epochCount?: number;
  cropsPerImage: number;
  k: number;
  quant: number;
  seed: number;
  runId: string;
  hasBox?: boolean;
}

export class LabelTableWriter {
  readonly fields: HeaderFields;
  private readonly blocks: Uint8Array[] = [];
  private readonly recordBytes: number;

  constructor(f: WriterFields) {
    this.fields = {
      flags: f.hasBox ? FLAG_HAS_BOX : 0,
      classes: f.classes,
      images: f.images,
      epochs: f.epochs,
      epochStart: f.epochStart ?? 0,
      epochCount: f.epochCount ?? f.epochs - (f.epochStart ?? 0),
      cropsPerImage: f.cropsPerImage,
      k: f.k,
      quant: f.quant,
      seed: f.seed,
      runId: f.runId,
    };
    checkFields(this.fields);
    this.recordBytes = recordSize(f.k, f.quant, !!f.hasBox);
  }

  /** Adds the next epoch: probs is (images · cropsPerImage) × classes in slot order; boxes likewise, when the table has them. */
  addEpoch(epoch: number, probs: Float32Array, boxes?: BoxRecord[]): void {
    const f = this.fields;
    const expected = f.epochStart + this.blocks.length;
    if (epoch !== expected)
      throw new LabelTableError("OUT_OF_RANGE", `epochs must be added in order: expected ${expected}, got ${epoch}`);
    if (this.blocks.length >= f.epochCount)
      throw new LabelTableError(
        "OUT_OF_RANGE",
        `the table holds ${f.epochCount} epochs; epoch ${epoch} is one too many`,
      );
    const crops = f.images * f.cropsPerImage;
    if (probs.length !== crops * f.classes)
      throw new LabelTableError(
        "BAD_RECORD",
        `epoch ${epoch}: expected ${crops} × ${f.classes} probabilities, got ${probs.length}`,
      );
    if (f.flags & FLAG_HAS_BOX && (!boxes || boxes.length !== crops))
      throw new LabelTableError("BAD_RECORD", `epoch ${epoch}: expected ${crops} crop boxes`);
    const block = new Uint8Array(epochBytes({ ...f, recordSize: this.recordBytes }));
    const view = new DataView(block.buffer);
    const layout = { ...f, recordSize: this.recordBytes };
    for (let r = 0; r < crops; r++)
      encodeRecord(layout, view, r * this.recordBytes, probs.subarray(r * f.classes, (r + 1) * f.classes), boxes?.[r]);
    this.blocks.push(block);
  }

  finish(): Uint8Array {
    const f = this.fields;
    if (this.blocks.length !== f.epochCount)
      throw new LabelTableError("OUT_OF_RANGE", `only ${this.blocks.length} of ${f.epochCount} epochs were added`);
    const crcs = new Uint8Array(4 * f.epochCount);
    const cv = new DataView(crcs.buffer);
    this.blocks.forEach((b, i) => cv.setUint32(4 * i, crc32(b), true));
    const header = encodeHeader(f, crc32(crcs));
    const out = new Uint8Array(HEADER_BYTES + crcs.length + this.blocks.reduce((s, b) => s + b.length, 0));
    out.set(header, 0);
    out.set(crcs, HEADER_BYTES);
    let o = HEADER_BYTES + crcs.length;
    for (const b of this.blocks) {
      out.set(b, o);
      o += b.length;
    }
    return out;
  }
}

/** A whole table in one call: one probability array (and box list) per epoch. */
export function encodeLabelTable(f: WriterFields, epochs: Float32Array[], boxes?: BoxRecord[][]): Uint8Array {
  const w = new LabelTableWriter(f);
  epochs.forEach((p, i) => w.addEpoch((f.epochStart ?? 0) + i, p, boxes?.[i]));
  return w.finish();
}
