// The ways recover's real starting images are chosen (--select), and what each needs from the run
// besides the teacher: a pool of candidates per image, the teacher's soft labels, students of its
// own, random draws. The pipeline asks the table, not the kind's name, what to carve, cache and
// exclude from the gate's scoring images; the choosing itself is in select-real.ts (pool kinds),
// select-probe.ts and select-factorial.ts.

export const SELECTION_KINDS = [
  "random",
  "typical",
  "hard",
  "kmeans",
  "kmeans-labels",
  "probe",
  "probe-cover",
  "factorial",
] as const;
export type SelectionKind = (typeof SELECTION_KINDS)[number];

/** The kinds that choose from the pool with the teacher alone (select-real.ts). */
export type PoolSelectionKind = "typical" | "hard" | "kmeans" | "kmeans-labels";
/** The kinds that train a probe student on the k-means choice first (select-probe.ts). */
export type ProbeSelectionKind = "probe" | "probe-cover";

export interface SelectionNeeds {
  /** It chooses among --select-from random real candidates per image (candidate 0 is (b)'s image). */
  pool: boolean;
  /** It reads the teacher's log-probabilities at the relabel temperature (which its config then holds). */
  temperature: boolean;
  /**
   * Students it trains before recover, with their recipe in its config: a full student scored on
   * the held-out split ("full"), or short ones (--screen-epochs) scored on screening images of their
   * own ("screen"); `labels` names their crop schedule's stream.
   */
  students?: { epochs: "full" | "screen"; labels: string };
  /** Random draws of the run's size it composes: (b)'s and draw-2 … draw-N (the gate's streams). */
  draws: number;
  /** What the start is, for the run's log. */
  describe: string;
}

export const SELECTIONS: Record<SelectionKind, SelectionNeeds> = {
  random: { pool: false, temperature: false, draws: 0, describe: "random" },
  typical: { pool: true, temperature: false, draws: 0, describe: "most typical" },
  hard: { pool: true, temperature: false, draws: 0, describe: "hardest correctly classified" },
  kmeans: { pool: true, temperature: false, draws: 0, describe: "k-means representatives" },
  "kmeans-labels": {
    pool: true,
    temperature: true,
    draws: 0,
    describe: "k-means representatives of the teacher's soft labels",
  },
  probe: {
    pool: true,
    temperature: false,
    students: { epochs: "full", labels: "probe" },
    draws: 0,
    describe: "k-means cluster members a probe student gets most wrong",
  },
  "probe-cover": {
    pool: true,
    temperature: false,
    students: { epochs: "full", labels: "probe" },
    draws: 0,
    describe: "k-means representatives weighted by a probe student's disagreement with the teacher",
  },
  factorial: {
    pool: false,
    temperature: false,
    students: { epochs: "screen", labels: "factorial" },
    draws: 3,
    describe: "best draw per class by short students on an orthogonal array",
  },
};

export function isPoolSelection(kind: SelectionKind): kind is PoolSelectionKind {
  return SELECTIONS[kind].pool && !SELECTIONS[kind].students;
}

export function needsProbe(kind: SelectionKind): kind is ProbeSelectionKind {
  return SELECTIONS[kind].pool && SELECTIONS[kind].students !== undefined;
}

/** The share of each class the start's candidates may take: the recover gate scores its students on the rest. */
export const START_SHARE_OF_CLASS = 0.5;

/** Whether a start of `perClass` images per class leaves the gate its share of the smallest class. */
export function startFits(smallestClass: number, perClass: number): boolean {
  return smallestClass * START_SHARE_OF_CLASS >= perClass;
}

/** Real candidates per start image: --select-from, fewer where they would take more than the start's share of a class; at least one. */
export function candidatesPerImage(selectFrom: number, smallestClass: number, perClass: number): number {
  return Math.max(1, Math.min(selectFrom, Math.floor((smallestClass * START_SHARE_OF_CLASS) / perClass)));
}
