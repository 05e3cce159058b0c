// Straightforward TypeScript reference of the module's statistics: shared/'s decoder for the
// checks (in the order of decodeLabelTable), then plain loops over the decoded records. The
// tests require the WASM module to give exactly these numbers; the benchmark compares speed.
import { crc32 } from "../../shared/checksum.ts";
import { batchOrder } from "../../shared/crop-schedule/index.ts";
import {
  HEADER_BYTES,
  LabelTableError,
  decodeHeader,
  decodeRecords,
  epochBytes,
  recordsStart,
  tableBytes,
} from "../../shared/label-table/index.ts";
import { ln } from "./ln.ts";
import { finishStats, ipcOf, type InspectOptions, type LabelStats } from "./types.ts";

const MAX_CONFUSION_CLASSES = 2048;

export function referenceStats(bytes: Uint8Array, o: InspectOptions = {}): LabelStats {
  const h = decodeHeader(bytes);
  const size = tableBytes(h);
  if (bytes.length < size)
    throw new LabelTableError("TRUNCATED", `the header describes ${size} bytes, the file has ${bytes.length}`);
  if (bytes.length > size)
    throw new LabelTableError("TRAILING_BYTES", `${bytes.length - size} bytes after the last record`);
  const crcBytes = bytes.subarray(HEADER_BYTES, recordsStart(h));
  if (crc32(crcBytes) !== h.recordsCrc)
    throw new LabelTableError("RECORDS_CHECKSUM", "the epoch CRC table does not match records_crc");
  const ipc = ipcOf(h, o.ipc);

  const C = h.classes,
    k = h.k,
    bins = Math.max(1, o.bins ?? 20);
  const entropyScale = C > 1 ? bins / ln(C) : 0;
  const entropy = new Uint32Array(bins),
    maxProb = new Uint32Array(bins),
    mass = new Uint32Array(bins);
  const classCrops = new Uint32Array(C),
    classAgree = new Uint32Array(C);
  const confusion = o.confusion !== false && C <= MAX_CONFUSION_CLASSES ? new Uint32Array(C * C) : null;
  const t = { crops: 0, agree: 0, sumEntropy: 0, sumMaxProb: 0, sumMass: 0 };
  const bin = (v: number) => Math.min(bins - 1, Math.max(0, Math.floor(v)));
  const per = epochBytes(h);
  const crops = h.images * h.cropsPerImage;
  const cv = new DataView(crcBytes.buffer, crcBytes.byteOffset, crcBytes.byteLength);

  for (let e = 0; e < h.epochCount; e++) {
    const block = bytes.subarray(recordsStart(h) + e * per, recordsStart(h) + (e + 1) * per);
    if (crc32(block) !== cv.getUint32(4 * e, true))
      throw new LabelTableError("EPOCH_CHECKSUM", `the records of epoch ${h.epochStart + e} do not match their CRC-32`);
    const { ids, probs } = decodeRecords(h, block, crops, e * crops);
    const order =
      ipc === null ? null : o.order ? o.order(h.epochStart + e) : batchOrder(h.seed, h.epochStart + e, h.images);
    for (let r = 0; r < crops; r++) {
      const target = order && ipc ? Math.floor(order[Math.floor(r / h.cropsPerImage)] / ipc) : -1;
      let m = 0,
        ent = 0;
      for (let j = 0; j < k; j++) {
        const p = probs[r * k + j];
        m += p;
        ent += p > 0 ? -p * ln(p) : 0;
      }
      // the remaining mass, spread evenly over the other C − k classes (SPEC "Reconstruction")
      if (C - k > 0) {
        const left = 1 - m;
        if (left > 0) ent += -left * ln(left / (C - k));
      }
      const top = probs[r * k],
        top1 = ids[r * k];
      entropy[bin(ent * entropyScale)]++;
      maxProb[bin(top * bins)]++;
      mass[bin(m * bins)]++;
      if (target >= 0) {
        classCrops[target]++;
        if (top1 === target) {
          classAgree[target]++;
          t.agree++;
        }
        if (confusion) confusion[target * C + top1]++;
      }
      t.crops++;
      t.sumEntropy += ent;
      t.sumMaxProb += top;
      t.sumMass += m;
    }
  }
  return finishStats(h, ipc, bins, Math.log(C), t, { entropy, maxProb, mass }, classCrops, classAgree, confusion);
}
