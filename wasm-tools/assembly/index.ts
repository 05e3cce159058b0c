// Label-table inspection module (wasm-tools/README.md). The TypeScript wrapper in
// wasm-tools/src/ drives it: parse the header, begin(), then for each epoch write the slot
// targets and feed whole records; CRCs are computed here too.
export { crc32 } from "./crc32";
export { parseHeader, checkSize, checkCrcTable, recordsStart, epochBytes, tableBytes } from "./header";
export { begin, setPosition, records, recordIndex } from "./stats";
import * as H from "./header";
import * as S from "./stats";
import * as E from "./errors";

export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

export function free(p: usize): void {
  heap.free(p);
}

/** Header fields in SPEC order. */
export function headerField(i: i32): u32 {
  switch (i) {
    case 0: return H.flags;
    case 1: return H.classes;
    case 2: return H.images;
    case 3: return H.epochs;
    case 4: return H.epochStart;
    case 5: return H.epochCount;
    case 6: return H.cropsPerImage;
    case 7: return H.k;
    case 8: return H.quant;
    case 9: return H.recordSize;
    case 10: return H.seed;
    case 11: return H.recordsCrc;
    default: return 0;
  }
}

/** Buffers: 0 targets (u16[images]), 1 class crops, 2 class agree, 3 confusion (0 if none; off-diagonal cells only, multiples of 256), 4–6 histograms (entropy, max-prob, top-k mass), 7 confusion low bytes (u8[C*C]). Confusion = 3 + 7, diagonal = 2. */
export function buffer(i: i32): usize {
  switch (i) {
    case 0: return S.targets;
    case 1: return S.classCrops;
    case 2: return S.classAgree;
    case 3: return S.confusion;
    case 4: return S.entropyHist;
    case 5: return S.maxProbHist;
    case 6: return S.massHist;
    case 7: return S.confusionLow;
    default: return 0;
  }
}

/** Totals: 0 crops, 1 agree, 2 Σ entropy, 3 Σ max-prob, 4 Σ top-k mass, 5 bins. */
export function total(i: i32): f64 {
  switch (i) {
    case 0: return S.crops;
    case 1: return S.agree;
    case 2: return S.sumEntropy;
    case 3: return S.sumMaxProb;
    case 4: return S.sumMass;
    case 5: return <f64>S.bins;
    default: return 0;
  }
}

/** Last error: 0 code, 1 reason, 2 index, 3 value, 4 value2. */
export function error(i: i32): f64 {
  switch (i) {
    case 0: return <f64>E.errCode;
    case 1: return <f64>E.errReason;
    case 2: return E.errIndex;
    case 3: return E.errValue;
    case 4: return E.errValue2;
    default: return 0;
  }
}
