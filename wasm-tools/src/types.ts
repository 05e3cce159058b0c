// What an inspection of a label table yields; the WASM module and the TypeScript reference
// produce the same object.
import type { LabelTableHeader } from "../../shared/label-table/index.ts";

export interface InspectOptions {
  /** Images per class: image i has target class floor(i / ipc). Default images / classes when that divides. */
  ipc?: number;
  /** Histogram bins (entropy over [0, ln C], max-prob and top-k mass over [0, 1]). Default 20. */
  bins?: number;
  /** Keep the target × top-1 confusion matrix (only up to 2048 classes). Default true. */
  confusion?: boolean;
  /** slot → image order of an epoch; default batchOrder(seed, epoch, images) of shared/crop-schedule. */
  order?: (epoch: number) => Uint32Array;
}

export interface LabelStats {
  header: LabelTableHeader;
  /** Images per class; null when unknown (images not a multiple of classes and none given): no agreement, per-class counts or confusion then. */
  ipc: number | null;
  /** Crops counted. */
  crops: number;
  bins: number;
  /** Upper edge of the entropy histogram: ln C (nats). */
  entropyMax: number;
  /** Fraction of crops whose top-1 class is the image's target class (0 when ipc is unknown). */
  agreement: number;
  /** Means over crops: entropy (nats) of the dense reconstruction, top-1 probability, top-k mass. */
  meanEntropy: number;
  meanMaxProb: number;
  meanTopkMass: number;
  entropyHist: number[];
  maxProbHist: number[];
  topkMassHist: number[];
  /** Per target class: crops and crops whose top-1 is that class. */
  classCrops: number[];
  classAgree: number[];
  /** classes × classes, row = target class, column = top-1 class; null above 2048 classes or when not asked. */
  confusion: Uint32Array | null;
}

/** Raw running sums; LabelStats is derived from them. */
export interface StatsTotals {
  crops: number;
  agree: number;
  sumEntropy: number;
  sumMaxProb: number;
  sumMass: number;
}

/** The ipc to use: the given one (checked), else images / classes when whole, else null. */
export function ipcOf(h: Pick<LabelTableHeader, "images" | "classes">, ipc?: number): number | null {
  if (ipc !== undefined) {
    if (!(Number.isInteger(ipc) && ipc >= 1 && ipc * h.classes === h.images))
      throw new RangeError(
        `ipc ${ipc} does not fit the table: images (${h.images}) must equal classes (${h.classes}) × ipc`,
      );
    return ipc;
  }
  return Number.isInteger(h.images / h.classes) ? h.images / h.classes : null;
}

export function finishStats(
  header: LabelTableHeader,
  ipc: number | null,
  bins: number,
  entropyMax: number,
  t: StatsTotals,
  hist: { entropy: ArrayLike<number>; maxProb: ArrayLike<number>; mass: ArrayLike<number> },
  classCrops: ArrayLike<number>,
  classAgree: ArrayLike<number>,
  confusion: Uint32Array | null,
): LabelStats {
  const n = t.crops || 1;
  const targeted = Array.from(classCrops).reduce((a, b) => a + b, 0) || 1;
  return {
    header,
    ipc,
    crops: t.crops,
    bins,
    entropyMax,
    agreement: t.agree / targeted,
    meanEntropy: t.sumEntropy / n,
    meanMaxProb: t.sumMaxProb / n,
    meanTopkMass: t.sumMass / n,
    entropyHist: Array.from(hist.entropy),
    maxProbHist: Array.from(hist.maxProb),
    topkMassHist: Array.from(hist.mass),
    classCrops: Array.from(classCrops),
    classAgree: Array.from(classAgree),
    confusion,
  };
}

/** Classes sorted by agreement, worst first (ties: more crops first, then lower id). */
export function worstClasses(s: LabelStats, n = 10): { cls: number; crops: number; agreement: number }[] {
  return s.classCrops
    .map((crops, cls) => ({ cls, crops, agreement: crops ? s.classAgree[cls] / crops : 0 }))
    .filter((c) => c.crops > 0)
    .sort((a, b) => a.agreement - b.agreement || b.crops - a.crops || a.cls - b.cls)
    .slice(0, n);
}
