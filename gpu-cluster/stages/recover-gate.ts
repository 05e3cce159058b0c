// Does recover earn its place on this data? One student per candidate image set — the recovered
// images, the real images recover started from, and baseline (b)'s random real images — each
// trained exactly as evaluate trains ours (its own soft labels, the run's crops, the full student
// budget) and scored on a held-out split carved from the training images (never the test set).
// The run keeps the set whose student scores highest. Why: at one image per class, matching every
// BatchNorm layer's statistics with a batch of ten images pulls the images far from real ones; on
// MNIST that still adds 0.85 pt, on Fashion-MNIST it costs 3.2 pt, and with CutMix crops the
// k-means representatives there trail a random draw (docs/ablations.md): only the data can tell.
// Why full students: shorter probes (50 000 crops) favoured the recovered images at IPC ≥ 10,
// which then lost to (b) at the full budget (docs/ablations.md). The caller reuses the students.
import type { ImageSet } from "./crops.ts";

export type GateCandidate = "recovered" | "start" | "random";

export interface GateResult {
  /** Held-out top-1 of each candidate's student. */
  scores: Partial<Record<GateCandidate, number>>;
  kept: GateCandidate;
}

/**
 * `sets` hold the same synthetic slots (K × ipc, class blocks). Ties keep the earlier set, so
 * list them from the least to the most processed: recover has to beat the images it started from.
 */
export async function recoverGate(
  sets: { name: GateCandidate; set: ImageSet }[],
  heldOutAccuracy: (set: ImageSet) => Promise<number>,
): Promise<GateResult> {
  if (sets.length === 0) throw new Error("recover gate: no candidate image sets");
  for (const { name, set } of sets) {
    if (set.count !== sets[0].set.count || set.pixels.length !== sets[0].set.pixels.length)
      throw new Error(`recover gate: ${sets[0].set.count} ${sets[0].name} images but ${set.count} ${name} ones`);
  }
  const scores: GateResult["scores"] = {};
  let kept = sets[0].name;
  for (const { name, set } of sets) {
    scores[name] = await heldOutAccuracy(set);
    if (scores[name]! > scores[kept]!) kept = name;
  }
  return { scores, kept };
}
