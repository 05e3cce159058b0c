// Reads a whole table (or shard) with every check of SPEC.md: sizes, header and epoch CRCs,
// record validity. Random access afterwards by (epoch, slot, crop).
import { crc32 } from "../checksum.ts";
import { HEADER_BYTES, decodeHeader, type LabelTableHeader } from "./header.ts";
import { epochBytes, recordOffset, recordsStart, tableBytes } from "./layout.ts";
import { decodeRecords, reconstructDense, type DecodedRecords } from "./records.ts";
import { LabelTableError } from "./errors.ts";

export interface LabelTable {
  header: LabelTableHeader;
  epochCrcs: Uint32Array;
  /** The stored top-k (and box) of one crop. */
  record(epoch: number, slot: number, crop?: number): DecodedRecords;
  /** Its dense reconstruction (SPEC: remaining mass spread evenly). */
  dense(epoch: number, slot: number, crop?: number): Float32Array;
}

export function decodeLabelTable(bytes: Uint8Array, o: { verify?: boolean } = {}): LabelTable {
  const header = decodeHeader(bytes);
  const size = tableBytes(header);
  if (bytes.length < size)
    throw new LabelTableError("TRUNCATED", `the header describes ${size} bytes, the file has ${bytes.length}`);
  if (bytes.length > size)
    throw new LabelTableError("TRAILING_BYTES", `${bytes.length - size} bytes after the last record`);
  const crcBytes = bytes.subarray(HEADER_BYTES, recordsStart(header));
  if (crc32(crcBytes) !== header.recordsCrc)
    throw new LabelTableError("RECORDS_CHECKSUM", "the epoch CRC table does not match records_crc");
  const epochCrcs = new Uint32Array(header.epochCount);
  const cv = new DataView(crcBytes.buffer, crcBytes.byteOffset, crcBytes.byteLength);
  const per = epochBytes(header);
  for (let e = 0; e < header.epochCount; e++) {
    epochCrcs[e] = cv.getUint32(4 * e, true);
    const start = recordsStart(header) + e * per;
    const block = bytes.subarray(start, start + per);
    if (crc32(block) !== epochCrcs[e])
      throw new LabelTableError(
        "EPOCH_CHECKSUM",
        `the records of epoch ${header.epochStart + e} do not match their CRC-32`,
      );
    if (o.verify !== false)
      decodeRecords(header, block, header.images * header.cropsPerImage, e * header.images * header.cropsPerImage);
  }
  const record = (epoch: number, slot: number, crop = 0): DecodedRecords => {
    const off = recordOffset(header, epoch, slot, crop);
    return decodeRecords(header, bytes.subarray(off, off + header.recordSize), 1);
  };
  return {
    header,
    epochCrcs,
    record,
    dense: (epoch, slot, crop = 0) => {
      const r = record(epoch, slot, crop);
      return reconstructDense(r.ids, r.probs, header.k, header.classes);
    },
  };
}
