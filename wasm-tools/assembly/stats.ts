// Statistics of label-table records, streamed over any run of whole records: per-crop
// entropy of the dense reconstruction (SPEC "Reconstruction"), top-1 probability, top-k mass
// (three histograms and their sums), top-1 agreement with the image's target class, per-class
// counts and the target × top-1 confusion matrix. Every record is validated on the way
// (BAD_RECORD as in shared/label-table/records.ts).
import * as H from "./header";
import * as E from "./errors";
import { initLn, ln } from "./ln";

/** Confusion matrices are kept up to this many classes (C² u32: 16 MiB at 2048). */
export const MAX_CONFUSION_CLASSES: u32 = 2048;
/** Target of a slot whose image's class is unknown (no ipc): counted in the histograms only. */
const NO_TARGET: u32 = 0xffff;

export let bins: u32 = 0;
let entropyScale: f64 = 0;
let sumTolerance: f64 = 0;

// buffers (heap), freed and reallocated by begin()
export let seen: usize = 0; // u32[C]: stamp of the last record that used each class id
export let classCrops: usize = 0; // u32[C]
export let classAgree: usize = 0; // u32[C]
// Confusion, off-diagonal cells only while accumulating (the diagonal is classAgree): a u8
// low byte per cell (C² bytes: 1 MiB at 1000 classes, stays in cache) plus a u32 matrix that
// takes 256 on each wrap (rarely touched). The wrapper adds them up when reading.
export let confusion: usize = 0; // u32[C*C] or 0: multiples of 256
export let confusionLow: usize = 0; // u8[C*C] or 0
export let entropyHist: usize = 0; // u32[bins]
export let maxProbHist: usize = 0; // u32[bins]
export let massHist: usize = 0; // u32[bins]
export let targets: usize = 0; // u16[images]: target class of each slot of the current epoch, or NO_TARGET
let pCheck: usize = 0; // f64[256 | 65536]: probability as the shared decoder sums it (f64)
let pValue: usize = 0; // f64[...]: decoded probability as exposed (f32-rounded), NaN if invalid
let negPLogP: usize = 0; // f64[...]: −p·ln p of pValue
let massUnits: usize = 0; // u32[...]: pValue in units of massUnit (exact: see loop)
let massUnit: f64 = 0;
/** Records per block of the fast path in loop(). */
const BLOCK: u32 = 16;
let scratch: usize = 0; // f64 entropy[BLOCK], f64 mass[BLOCK]

// totals
export let crops: f64 = 0;
export let agree: f64 = 0;
export let sumEntropy: f64 = 0;
export let sumMaxProb: f64 = 0;
export let sumMass: f64 = 0;

// position of the next record
export let epochRel: u32 = 0;
export let slot: u32 = 0;
export let crop: u32 = 0;
let stamp: u32 = 0;

function release(p: usize): usize {
  if (p != 0) heap.free(p);
  return 0;
}

function zeroed(bytes: usize): usize {
  const p = heap.alloc(bytes);
  memory.fill(p, 0, bytes);
  return p;
}

function fromHalf(h: u32): f64 {
  const sign: f64 = (h & 0x8000) != 0 ? -1.0 : 1.0;
  const exp = (h >>> 10) & 0x1f;
  const mant = <f64>(h & 0x3ff);
  if (exp == 0) return sign * mant * 5.960464477539063e-8; // 2^-24
  if (exp == 0x1f) return mant != 0 ? NaN : sign * Infinity;
  return sign * (1.0 + mant / 1024.0) * reinterpret<f64>(<u64>(exp - 15 + 1023) << 52);
}

/** −p·ln p, the entropy term of one probability (0 at p = 0). */
// @ts-ignore: decorator
@inline
function plogp(p: f64): f64 {
  return p > 0 ? -p * ln(p) : 0;
}

/** Allocates and zeroes the accumulators for the parsed header; returns an error code. */
export function begin(binCount: u32, wantConfusion: bool): i32 {
  E.clearError();
  if (!H.headerOk) return E.fail(E.OUT_OF_RANGE, E.R_NOT_STARTED, 0, 0, 0);
  if (H.images > H.MAX_IMAGES) return E.fail(E.BAD_HEADER, E.R_TOO_LARGE, 0, <f64>H.images, <f64>H.MAX_IMAGES);
  initLn();
  const C = <usize>H.classes;
  bins = binCount < 1 ? 1 : binCount;
  entropyScale = H.classes > 1 ? <f64>bins / ln(<f64>H.classes) : 0;
  sumTolerance = <f64>H.k * (H.quant == H.QUANT_U8 ? 0.5 / 255.0 : 0.00048828125) + 1e-6;
  seen = release(seen);
  classCrops = release(classCrops);
  classAgree = release(classAgree);
  confusion = release(confusion);
  confusionLow = release(confusionLow);
  entropyHist = release(entropyHist);
  maxProbHist = release(maxProbHist);
  massHist = release(massHist);
  targets = release(targets);
  pCheck = release(pCheck);
  pValue = release(pValue);
  negPLogP = release(negPLogP);
  massUnits = release(massUnits);
  scratch = release(scratch);
  scratch = heap.alloc(<usize>BLOCK << 4);
  seen = zeroed(C << 2);
  classCrops = zeroed(C << 2);
  classAgree = zeroed(C << 2);
  if (wantConfusion && H.classes <= MAX_CONFUSION_CLASSES) {
    confusion = zeroed((C * C) << 2);
    confusionLow = zeroed(C * C);
  }
  entropyHist = zeroed(<usize>bins << 2);
  maxProbHist = zeroed(<usize>bins << 2);
  massHist = zeroed(<usize>bins << 2);
  targets = zeroed(<usize>H.images << 1);
  const n: u32 = H.quant == H.QUANT_U8 ? 256 : 65536;
  pCheck = heap.alloc(<usize>n << 3);
  pValue = heap.alloc(<usize>n << 3);
  negPLogP = heap.alloc(<usize>n << 3);
  massUnits = heap.alloc(<usize>n << 2);
  massUnit = H.quant == H.QUANT_U8 ? 4.656612873077393e-10 : 5.960464477539063e-8; // 2^-31, 2^-24
  for (let q: u32 = 0; q < n; q++) {
    const exact = H.quant == H.QUANT_U8 ? <f64>q / 255.0 : fromHalf(q);
    const shown = <f64>(<f32>exact);
    store<f64>(pCheck + (<usize>q << 3), exact);
    store<f64>(pValue + (<usize>q << 3), exact >= 0 && exact <= 1 ? shown : NaN);
    store<f64>(negPLogP + (<usize>q << 3), exact >= 0 && exact <= 1 ? plogp(shown) : 0);
    store<u32>(massUnits + (<usize>q << 2), exact >= 0 && exact <= 1 ? <u32>(shown / massUnit) : 0);
  }
  crops = 0;
  agree = 0;
  sumEntropy = 0;
  sumMaxProb = 0;
  sumMass = 0;
  epochRel = 0;
  slot = 0;
  crop = 0;
  stamp = 0;
  return E.OK;
}

/** Moves to (epoch − epoch_start, slot, crop); the next records() call starts there. */
export function setPosition(e: u32, s: u32, c: u32): i32 {
  E.clearError();
  if (targets == 0) return E.fail(E.OUT_OF_RANGE, E.R_NOT_STARTED, 0, 0, 0);
  if (e >= H.epochCount || s >= H.images || c >= H.cropsPerImage) return E.fail(E.OUT_OF_RANGE, E.R_POSITION, <f64>e, <f64>s, <f64>c);
  epochRel = e;
  slot = s;
  crop = c;
  return E.OK;
}

/** Index of the next record counted from the first record of the table. */
export function recordIndex(): f64 {
  return (<f64>epochRel * <f64>H.images + <f64>slot) * <f64>H.cropsPerImage + <f64>crop;
}

// One valid record's counts, the same in both loops of `loop` (inlined: the hot path).
/** One more in histogram `hist` (u32[B]) at bin ⌊scaled⌋ (scaled ≥ 0: truncation is floor), clamped to its bins. */
// @ts-ignore: decorator
@inline
function countIn(hist: usize, scaled: f64, B: i32): void {
  let bin = <i32>scaled;
  bin = bin < 0 ? 0 : bin >= B ? B - 1 : bin;
  const at = hist + (<usize>bin << 2);
  store<u32>(at, load<u32>(at) + 1);
}

/** A crop of class `target` (or NO_TARGET) whose top-1 is `top1`: its class's counts and confusion cell; 1 where they agree. */
// @ts-ignore: decorator
@inline
function countClasses(
  target: u32,
  top1: u32,
  C: u32,
  cc: usize, // classCrops, classAgree, confusion, confusionLow, as the loop holds them in locals
  ca: usize,
  cm: usize,
  cl: usize,
): f64 {
  if (target == NO_TARGET) return 0;
  const tp = <usize>target << 2;
  store<u32>(cc + tp, load<u32>(cc + tp) + 1);
  if (top1 == target) {
    store<u32>(ca + tp, load<u32>(ca + tp) + 1);
    return 1;
  }
  if (cm != 0) {
    // u8 low counts, carried into the u32 cell every 256
    const cell = <usize>target * <usize>C + <usize>top1;
    const low = <u32>load<u8>(cl + cell) + 1;
    store<u8>(cl + cell, <u8>low);
    if (low == 256) store<u32>(cm + (cell << 2), load<u32>(cm + (cell << 2)) + 256);
  }
  return 0;
}

function badRecord(reason: i32, value: f64): i32 {
  return E.fail(E.BAD_RECORD, reason, recordIndex(), value, 0);
}

/** Validates and accumulates `count` records at p, starting at the current position. */
export function records(p: usize, count: u32): i32 {
  E.clearError();
  if (targets == 0) return E.fail(E.OUT_OF_RANGE, E.R_NOT_STARTED, 0, 0, 0);
  const left = (<u64>(H.images - slot)) * <u64>H.cropsPerImage - <u64>crop;
  if (<u64>count > left) return E.fail(E.OUT_OF_RANGE, E.R_POSITION, recordIndex(), <f64>count, <f64>left);
  return H.quant == H.QUANT_U8 ? loop<u8>(p, count) : loop<u16>(p, count);
}

// Hot loop. Globals are copied into locals (V8 keeps wasm globals in memory), the u8 sum check
// is done on integers (the bound below; tests/wasm/corrupt.test.ts checks codes against shared), f16 bit patterns of valid
// probabilities (0 … 1.0, −0 read as 0) order like their values, so the descending check
// compares integers.
function loop<Q>(p: usize, count: u32): i32 {
  const u8 = sizeof<Q>() == 1;
  const C = H.classes;
  const K = <usize>H.k;
  const rs = <usize>H.recordSize;
  const cpi = H.cropsPerImage;
  const hasBox = (H.flags & H.FLAG_HAS_BOX) != 0;
  // u8: Σq/255 > 1 + k·0.5/255 + 1e-6  ⇔  Σq > 255 + k/2 + 255e-6 (Σq integer)
  const sumLimitU8 = <u32>Math.floor(255.0 + <f64>K * 0.5 + 255e-6);
  const tol = 1.0 + sumTolerance;
  const B = <i32>bins;
  const Bf = <f64>B;
  const eScale = entropyScale;
  const rest = <f64>(C - H.k);
  const seenP = seen;
  const pv = pValue;
  const nl = negPLogP;
  const mu = massUnits;
  const unit = massUnit;
  const eh = entropyHist, mh = maxProbHist, kh = massHist;
  const cc = classCrops, ca = classAgree, cm = confusion, cl = confusionLow, tg = targets;
  let st = stamp;
  let nAgree: f64 = 0;
  // running sums continue from the totals so that they add crop by crop, like the reference
  let sE = sumEntropy, sM = sumMaxProb, sK = sumMass;
  let s = slot;
  let c = crop;
  let target = <u32>load<u16>(tg + (<usize>s << 1));
  let r: u32 = 0;
  let code = E.OK;
  // Fast path, BLOCK records at a time: checks and top-k sums record by record, then the
  // entropy of the remaining mass (a division and a ln: a long dependency chain that, inside
  // the record loop, the CPU could not overlap with the next record's work) for the whole
  // block in a short loop of independent iterations, then the histograms and counts in crop
  // order. The same operations in the same order as below: the same bits. A block holding an
  // invalid record is left to the record-by-record loop, which stops at that record.
  const hs = scratch, ms = scratch + (<usize>BLOCK << 3);
  for (; r + BLOCK <= count; r += BLOCK) {
    const base = p + <usize>r * rs;
    let ok = true;
    for (let b: u32 = 0; b < BLOCK; b++) {
      const rec = base + <usize>b * rs;
      const probs = rec + (K << 1);
      st++;
      if (st == 0) {
        memory.fill(seenP, 0, <usize>C << 2);
        st = 1;
      }
      let qsum: u32 = 0;
      let units: u64 = 0;
      let h: f64 = 0;
      let prev: u32 = 0xffffffff;
      for (let j: usize = 0; j < K; j++) {
        const id = <u32>load<u16>(rec + (j << 1));
        if (id >= C) {
          ok = false;
          break;
        }
        const sp = seenP + (<usize>id << 2);
        if (load<u32>(sp) == st) {
          ok = false;
          break;
        }
        store<u32>(sp, st);
        let q = <u32>load<Q>(probs + j * sizeof<Q>());
        if (!u8) {
          if (q == 0x8000) q = 0;
          if (q > 0x3c00) {
            ok = false;
            break;
          }
        }
        if (q > prev) {
          ok = false;
          break;
        }
        prev = q;
        qsum += q;
        units += <u64>load<u32>(mu + (<usize>q << 2));
        h += load<f64>(nl + (<usize>q << 3));
      }
      const mass = <f64>units * unit;
      if (!ok || (u8 ? qsum > sumLimitU8 : mass > tol) || (hasBox && load<u8>(probs + K * sizeof<Q>() + 8) > 1)) {
        ok = false;
        break;
      }
      store<f64>(hs + (<usize>b << 3), h);
      store<f64>(ms + (<usize>b << 3), mass);
    }
    // stamps only grow: the record-by-record loop re-checks this block with fresh ones
    if (!ok) break;
    if (rest > 0) {
      for (let b: u32 = 0; b < BLOCK; b++) {
        const left = 1.0 - load<f64>(ms + (<usize>b << 3));
        const hp = hs + (<usize>b << 3);
        if (left > 0) store<f64>(hp, load<f64>(hp) + -left * ln(left / rest));
      }
    }
    for (let b: u32 = 0; b < BLOCK; b++) {
      const rec = base + <usize>b * rs;
      const h = load<f64>(hs + (<usize>b << 3));
      const mass = load<f64>(ms + (<usize>b << 3));
      const top = load<f64>(pv + (<usize>load<Q>(rec + (K << 1)) << 3));
      const top1 = <u32>load<u16>(rec);
      countIn(eh, h * eScale, B);
      countIn(mh, top * Bf, B);
      countIn(kh, mass * Bf, B);
      nAgree += countClasses(target, top1, C, cc, ca, cm, cl);
      sE += h;
      sM += top;
      sK += mass;
      c++;
      if (c == cpi) {
        c = 0;
        s++;
        if (s < H.images) target = <u32>load<u16>(tg + (<usize>s << 1));
      }
    }
  }
  for (; r < count; r++) {
    const rec = p + <usize>r * rs;
    const probs = rec + (K << 1);
    st++;
    if (st == 0) {
      memory.fill(seenP, 0, <usize>C << 2);
      st = 1;
    }
    let qsum: u32 = 0;
    let units: u64 = 0;
    let h: f64 = 0;
    let prev: u32 = 0xffffffff;
    let bad = 0;
    let badValue: f64 = 0;
    for (let j: usize = 0; j < K; j++) {
      const id = <u32>load<u16>(rec + (j << 1));
      if (id >= C) {
        bad = E.R_ID_RANGE;
        badValue = <f64>id;
        break;
      }
      const sp = seenP + (<usize>id << 2);
      if (load<u32>(sp) == st) {
        bad = E.R_DUPLICATE;
        badValue = <f64>id;
        break;
      }
      store<u32>(sp, st);
      let q = <u32>load<Q>(probs + j * sizeof<Q>());
      if (!u8) {
        if (q == 0x8000) q = 0; // −0
        if (q > 0x3c00) {
          bad = E.R_PROB_RANGE;
          badValue = load<f64>(pCheck + (<usize>q << 3));
          break;
        }
      }
      if (q > prev) {
        bad = E.R_ORDER;
        badValue = load<f64>(pv + (<usize>q << 3));
        break;
      }
      prev = q;
      qsum += q;
      units += <u64>load<u32>(mu + (<usize>q << 2));
      h += load<f64>(nl + (<usize>q << 3));
    }
    // Σ p in f64 over f32-rounded values is exact (every value is a multiple of 2^-31 for u8,
    // 2^-24 for f16, and sums stay far below 2^53 units), so an integer sum gives the same bits.
    const mass = <f64>units * unit;
    if (bad == 0) {
      if (u8 ? qsum > sumLimitU8 : mass > tol) {
        bad = E.R_SUM;
        badValue = u8 ? <f64>qsum / 255.0 : mass;
      } else if (hasBox) {
        const flip = load<u8>(probs + K * sizeof<Q>() + 8);
        if (flip > 1) {
          bad = E.R_FLIP;
          badValue = <f64>flip;
        }
      }
    }
    if (bad != 0) {
      slot = s;
      crop = c;
      code = badRecord(bad, badValue);
      break;
    }
    // remaining mass spread evenly over the other C − k classes
    if (rest > 0) {
      const left = 1.0 - mass;
      if (left > 0) h += -left * ln(left / rest);
    }
    const top = load<f64>(pv + (<usize>load<Q>(probs) << 3));
    const top1 = <u32>load<u16>(rec);
    countIn(eh, h * eScale, B);
    countIn(mh, top * Bf, B);
    countIn(kh, mass * Bf, B);
    nAgree += countClasses(target, top1, C, cc, ca, cm, cl);
    sE += h;
    sM += top;
    sK += mass;
    c++;
    if (c == cpi) {
      c = 0;
      s++;
      if (s < H.images) target = <u32>load<u16>(tg + (<usize>s << 1));
    }
  }
  stamp = st;
  crops += <f64>r;
  agree += nAgree;
  sumEntropy = sE;
  sumMaxProb = sM;
  sumMass = sK;
  if (code != E.OK) return code;
  // an epoch's last record moves on to slot 0 of the next epoch
  if (s == H.images) {
    s = 0;
    epochRel++;
  }
  slot = s;
  crop = c;
  return E.OK;
}
