// Does recover earn its place on this data? Two probe students, one on the real images recover
// started from and one on the recovered images, each trained as evaluate trains ours (its own
// soft labels, the run's crops, on a reduced crop budget) and scored on a held-out split carved
// from the training images (never the test set). The run keeps the recovered images only when
// their student scores higher. Why: at one image per class, matching every BatchNorm layer's
// statistics with a batch of ten images pulls them far from real ones; on MNIST that still adds
// 1.2 pt, on Fashion-MNIST it costs 3.1 pt (docs/ablations.md), and only the data can tell which.
import type { ImageSet } from "./crops.ts";

/** Crops each probe student sees at most (a third of MIN_STUDENT_CROPS: enough to rank the two sets). */
export const GATE_PROBE_CROPS = 50_000;

/** Probe epochs for a set of `images`: GATE_PROBE_CROPS worth, never more than the run's own students. */
export function gateProbeEpochs(images: number, studentEpochs: number): number {
  return Math.max(1, Math.min(studentEpochs, Math.ceil(GATE_PROBE_CROPS / images)));
}

export interface GateResult {
  /** Held-out top-1 of the probe student on the starting real images and on the recovered ones. */
  start: number;
  recovered: number;
  kept: "recovered" | "start";
}

/** `start` and `recovered` hold the same synthetic slots (K × ipc, class blocks). */
export async function recoverGate(
  start: ImageSet,
  recovered: ImageSet,
  heldOutAccuracy: (set: ImageSet) => Promise<number>,
): Promise<GateResult> {
  if (start.count !== recovered.count || start.pixels.length !== recovered.pixels.length)
    throw new Error(`recover gate: ${start.count} starting images but ${recovered.count} recovered ones`);
  const s = await heldOutAccuracy(start);
  const r = await heldOutAccuracy(recovered);
  return { start: s, recovered: r, kept: r > s ? "recovered" : "start" };
}
