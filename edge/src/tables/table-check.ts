// Checks a label table while it streams in, chunk by chunk, without holding it: the header
// (decodeHeader, then matched to the run's manifest and to Content-Length), the epoch CRC
// table against records_crc, every epoch's records against its CRC, and every record itself
// (decodeRecords: class ids < classes and distinct, probabilities in [0, 1], descending,
// summing to ≤ 1; crop boxes equal to the run's crop schedule), so that a published shard
// never answers TABLE_CORRUPT. The first problem is kept in `failure` and thrown, which
// errors the upload stream so nothing is published.
import { crc32 } from "../../../shared/checksum.ts";
import { batchOrder, cropFor } from "../../../shared/crop-schedule/index.ts";
import {
  decodeHeader,
  decodeRecords,
  epochBytes,
  HEADER_BYTES,
  LabelTableError,
  tableBytes,
  type LabelTableHeader,
} from "../../../shared/label-table/index.ts";
import type { RunManifest } from "../../../shared/manifest.ts";
import { ApiError } from "../errors.ts";
import { headerMismatches } from "../storage/shards.ts";

export class TableCheck {
  header: LabelTableHeader | null = null;
  headerBytes = new Uint8Array(HEADER_BYTES);
  failure: ApiError | null = null;
  private received = 0;
  private crcTable = new Uint8Array(0);
  private crcFill = 0;
  private epoch = 0;
  private epochFill = 0;
  private epochCrc = 0;
  private epochLength = 0;
  /** Bytes of a record split across chunks, and the index in its epoch of the next record. */
  private carry = new Uint8Array(0);
  private carryFill = 0;
  private record = 0;
  private order: Uint32Array | null = null;

  constructor(
    private readonly manifest: RunManifest,
    private readonly declaredLength: number,
  ) {}

  private fail(e: ApiError): never {
    this.failure ??= e;
    throw this.failure;
  }

  private invalid(message: string): never {
    return this.fail(new ApiError(422, "TABLE_INVALID", message));
  }

  private onHeader(): void {
    let h: LabelTableHeader;
    try {
      h = decodeHeader(this.headerBytes);
    } catch (e) {
      if (e instanceof LabelTableError) this.invalid(`${e.message} (code ${e.code})`);
      throw e;
    }
    const problems = headerMismatches(h, this.manifest);
    if (problems.length)
      this.fail(
        new ApiError(
          422,
          "TABLE_MISMATCH",
          `the table does not belong to run ${this.manifest.runId}: ${problems.join("; ")}`,
        ),
      );
    const size = tableBytes(h);
    if (size !== this.declaredLength)
      this.invalid(`the header describes a ${size}-byte table but Content-Length is ${this.declaredLength}`);
    this.header = h;
    this.crcTable = new Uint8Array(4 * h.epochCount);
    this.epochLength = epochBytes(h);
    this.carry = new Uint8Array(h.recordSize);
  }

  /** Validates `count` whole records of the current epoch. */
  private checkRecords(bytes: Uint8Array, count: number): void {
    const h = this.header!;
    const epoch = h.epochStart + this.epoch;
    let boxes;
    try {
      boxes = decodeRecords(h, bytes, count, this.record).boxes;
    } catch (e) {
      if (e instanceof LabelTableError) this.invalid(`epoch ${epoch}: ${e.message} (code ${e.code})`);
      throw e;
    }
    if (boxes) {
      const schedule = this.manifest.relabel.schedule;
      this.order ??= batchOrder(schedule.seed, epoch, h.images);
      for (let i = 0; i < count; i++) {
        const r = this.record + i;
        const want = cropFor(schedule, epoch, this.order[Math.floor(r / h.cropsPerImage)], r % h.cropsPerImage);
        const b = boxes[i];
        if (b.x !== want.x || b.y !== want.y || b.w !== want.w || b.h !== want.h || b.flip !== want.flip)
          this.invalid(
            `epoch ${epoch}, record ${r}: the crop box is not the run's crop schedule's (the table was written with another schedule)`,
          );
      }
    }
    this.record += count;
  }

  /** Feeds record bytes of the current epoch (any split), validating each record once whole. */
  private pushRecords(part: Uint8Array): void {
    const rs = this.carry.length;
    let q = 0;
    if (this.carryFill > 0) {
      q = Math.min(rs - this.carryFill, part.length);
      this.carry.set(part.subarray(0, q), this.carryFill);
      this.carryFill += q;
      if (this.carryFill < rs) return;
      this.checkRecords(this.carry, 1);
      this.carryFill = 0;
    }
    const whole = Math.floor((part.length - q) / rs);
    if (whole > 0) this.checkRecords(part.subarray(q, q + whole * rs), whole);
    q += whole * rs;
    this.carry.set(part.subarray(q), 0);
    this.carryFill = part.length - q;
  }

  /** Feeds the next chunk; throws (and records) the first problem found. */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    this.received += chunk.length;
    if (this.received > this.declaredLength)
      this.invalid(`the body is longer than Content-Length (${this.declaredLength})`);
    let p = 0;
    while (p < chunk.length) {
      if (!this.header) {
        const fill = this.received - chunk.length + p;
        const take = Math.min(HEADER_BYTES - fill, chunk.length - p);
        this.headerBytes.set(chunk.subarray(p, p + take), fill);
        p += take;
        if (fill + take === HEADER_BYTES) this.onHeader();
      } else if (this.crcFill < this.crcTable.length) {
        const take = Math.min(this.crcTable.length - this.crcFill, chunk.length - p);
        this.crcTable.set(chunk.subarray(p, p + take), this.crcFill);
        this.crcFill += take;
        p += take;
        if (this.crcFill === this.crcTable.length && crc32(this.crcTable) !== this.header.recordsCrc) {
          this.invalid("the epoch CRC table does not match records_crc (code RECORDS_CHECKSUM)");
        }
      } else {
        const take = Math.min(this.epochLength - this.epochFill, chunk.length - p);
        this.epochCrc = crc32(chunk.subarray(p, p + take), this.epochCrc);
        this.pushRecords(chunk.subarray(p, p + take));
        this.epochFill += take;
        p += take;
        if (this.epochFill === this.epochLength) {
          const want = new DataView(this.crcTable.buffer).getUint32(4 * this.epoch, true);
          if (this.epochCrc !== want)
            this.invalid(
              `epoch ${this.header.epochStart + this.epoch}'s records do not match their CRC (code EPOCH_CHECKSUM)`,
            );
          this.epoch++;
          this.epochFill = 0;
          this.epochCrc = 0;
          this.record = 0;
          this.order = null;
        }
      }
    }
  }

  /** At the end of the body: everything the header promised has arrived and checked out. */
  finish(): LabelTableHeader {
    if (this.failure) throw this.failure;
    if (!this.header && this.received === this.declaredLength)
      this.invalid(
        `the body is ${this.received} bytes, shorter than the ${HEADER_BYTES}-byte label-table header: not a label table`,
      );
    if (!this.header || this.epoch !== this.header.epochCount) {
      this.fail(
        new ApiError(
          400,
          "UPLOAD_ABORTED",
          `the body ended after ${this.received} of ${this.declaredLength} bytes; nothing was published: upload again`,
        ),
      );
    }
    return this.header;
  }
}
