// Screening random draws for the recover gate (--gate-screen). At one image per class which images
// are drawn moves a student more than recover or selection does (Fashion-MNIST IPC 1: 86.5–89.1 %
// over five draws of one seed), and the gate's students order draws as the test set does — but a
// full student per draw limits the gate to a few. Short students (a quarter of the crops) rank
// many draws instead, and the gate weighs the best few with full students. They are scored on
// training images of their own, never the gate's: a draw picked for luck on the gate's images
// would carry that luck into the gate's test, and its 5 % would no longer hold.
import type { Dataset } from "../data/index.ts";
import type { ImageSet } from "./crops.ts";
import { heldOutIndices, type GateCandidate } from "./recover-gate.ts";

/** Training images the screening students are scored on, at most. */
export const SCREEN_IMAGES = 10_000;

/**
 * The screening images: of the training images outside `exclude` (every draw's and candidate's
 * source images), a sixth and SCREEN_IMAGES at most (the gate takes its scoring images from the
 * rest); seeded, the same share of each class.
 */
export function screenImageIndices(train: Dataset, exclude: Iterable<number>, seed: number): number[] {
  const out = new Set(exclude);
  const left = train.labels.length - out.size;
  const picked = heldOutIndices(train, out, seed, Math.min(SCREEN_IMAGES, Math.floor(left / 6)), "gate-screen");
  if (picked.length === 0)
    throw new Error(
      `gate screen: ${left} training images of ${train.name} are left beside the candidates, too few to score screening students on: drop --gate-screen`,
    );
  return picked;
}

export interface ScreenResult {
  /** Top-1 of each draw's screening student on the screening images. */
  scores: Partial<Record<GateCandidate, number>>;
  /** The draws the gate weighs, best first. */
  chosen: GateCandidate[];
}

/**
 * Scores every draw (`score`: its screening student's top-1) and chooses the `keep` best of those
 * other than `always` ((b)'s, which the gate weighs in any case); ties keep the earlier draw.
 */
export async function screenDraws(
  draws: { name: GateCandidate; set: ImageSet }[],
  score: (set: ImageSet, name: GateCandidate) => Promise<number>,
  keep: number,
  always: GateCandidate,
): Promise<ScreenResult> {
  const others = draws.filter((d) => d.name !== always);
  if (keep > others.length)
    throw new Error(`gate screen: ${keep} draws to keep of ${others.length} screened (screen at least as many)`);
  const scores: ScreenResult["scores"] = {};
  for (const { name, set } of draws) scores[name] = await score(set, name);
  const chosen = others
    .map((d, i) => ({ name: d.name, i }))
    .sort((a, b) => scores[b.name]! - scores[a.name]! || a.i - b.i)
    .slice(0, keep)
    .map((d) => d.name);
  return { scores, chosen };
}
