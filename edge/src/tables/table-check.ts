// Checks a label table while it streams in, chunk by chunk, without holding it: the header
// (decodeHeader, then matched to the run's manifest and to Content-Length), the epoch CRC
// table against records_crc, and every epoch's records against its CRC. The first problem
// is kept in `failure` and thrown, which errors the upload stream so nothing is published.
import { crc32 } from "../../../shared/checksum.ts";
import {
  decodeHeader,
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
        }
      }
    }
  }

  /** At the end of the body: everything the header promised has arrived and checked out. */
  finish(): LabelTableHeader {
    if (this.failure) throw this.failure;
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
