// Which real images recover starts from, out of m random real candidates per synthetic image
// (candidate 0 of each is baseline (b)'s image, so m = 1 is (b)'s random subset itself):
// - typical: each image keeps the candidate the teacher finds most typical of the class (lowest
//   cross-entropy), in the spirit of RDED's realism score; candidates are grouped per image,
//   not ranked per class, so that the chosen images stay about as diverse as a random draw.
// - hard: each image keeps the candidate with the highest teacher cross-entropy that the teacher
//   still classifies correctly: its soft labels carry more of the teacher's view of the other
//   classes (the mirror image of typical, which measured worse than random).
// - kmeans: per class, k-means (k = ipc) over all its candidates in pixel space and the
//   candidate nearest each centre: representative and spread over the class's modes.
// - kmeans-labels: the same k-means over the teacher's log-probabilities at the relabel
//   temperature instead of pixels: spread over what the teacher says about the images.
// - probe: the same clusters, each keeping the member a probe student trained on the k-means
//   choice gets most wrong (select-probe.ts).
// - probe-cover: k-means again, each candidate weighted by how much that probe student still
//   disagrees with the teacher on it (select-probe.ts).
import { Random, type ChannelStats } from "../data/index.ts";
import { Classifier } from "../runtime/inference.ts";
import type { CompileOptions } from "../runtime/program.ts";
import { imageOf, type ImageSet } from "./crops.ts";
import type { PoolSelectionKind } from "./selection-kinds.ts";
import { logSoftmax, logSumExp } from "./softmax.ts";

export interface Selection extends ImageSet {
  /** Index into the candidate set of each chosen image. */
  chosen: number[];
}

/**
 * The candidates a selection chooses from: K × ipc × m images in class blocks; synthetic image
 * c·ipc + j chooses among the class's candidates j, j + ipc, …, j + (m − 1)·ipc (so candidate 0 of
 * each is (b)'s image j).
 */
export interface CandidatePool {
  candidates: ImageSet;
  classes: number;
  ipc: number;
  m: number;
  seed: number;
}

/** The frozen teacher as the selections consult it: ONNX bytes, its input normalisation, the relabel temperature. */
export interface TeacherView extends CompileOptions {
  onnx: Uint8Array;
  stats: ChannelStats;
  temperature: number;
  batch?: number;
}

/** Refuses a pool whose candidate count does not match its layout. */
function checkPool(
  name: string,
  count: number,
  { classes, ipc, m }: Pick<CandidatePool, "classes" | "ipc" | "m">,
): void {
  if (count !== classes * ipc * m)
    throw new Error(
      `${name}: needs ${classes * ipc * m} candidates (${classes} classes × ${ipc} per class × ${m} each), got ${count}`,
    );
}

export function gather(candidates: ImageSet, chosen: number[]): Selection {
  const per = candidates.channels * candidates.size * candidates.size;
  const pixels = new Float32Array(chosen.length * per);
  chosen.forEach((src, i) => pixels.set(imageOf(candidates, src), i * per));
  return { pixels, count: chosen.length, channels: candidates.channels, size: candidates.size, chosen };
}

/** A classifier's logits of every image of a set, [count × K], normalised as the teacher sees them. */
export async function logitsOf(
  clf: Classifier,
  set: ImageSet,
  stats: ChannelStats,
  batch = 256,
): Promise<Float32Array> {
  const per = set.channels * set.size * set.size;
  const plane = set.size * set.size;
  const parts: Float32Array[] = [];
  for (let s = 0; s < set.count; s += batch) {
    const n = Math.min(batch, set.count - s);
    const x = new Float32Array(n * per);
    for (let i = 0; i < n; i++) {
      const src = imageOf(set, s + i);
      for (let c = 0; c < set.channels; c++) {
        for (let q = 0; q < plane; q++)
          x[i * per + c * plane + q] = (src[c * plane + q] - stats.mean[c]) / stats.std[c];
      }
    }
    parts.push(await clf.logits({ dtype: "float32", shape: [n, set.channels, set.size, set.size], data: x }));
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The teacher's logits of every candidate, [count × K]. */
export async function teacherLogits(teacher: TeacherView, set: ImageSet): Promise<Float32Array> {
  const clf = await Classifier.fromOnnx(teacher.onnx, teacher);
  try {
    return await logitsOf(clf, set, teacher.stats, teacher.batch);
  } finally {
    await clf.release();
  }
}

/** typical or hard: each synthetic image keeps one of its own m candidates, by the teacher's cross-entropy. */
export async function selectByTeacher(
  kind: "typical" | "hard",
  pool: CandidatePool,
  teacher: TeacherView,
): Promise<Selection> {
  const { candidates, classes, ipc, m } = pool;
  checkPool("selectByTeacher", candidates.count, pool);
  const loss = new Float64Array(candidates.count);
  const correct = new Uint8Array(candidates.count);
  const logits = await teacherLogits(teacher, candidates);
  for (let i = 0; i < candidates.count; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const target = Math.floor(i / (ipc * m));
    loss[i] = logSumExp(row) - row[target];
    correct[i] = row[target] === Math.max(...row) ? 1 : 0;
  }
  // typical: lowest loss; hard: highest loss among the correctly classified (any correct one beats a wrong one)
  const better =
    kind === "typical"
      ? (a: number, b: number) => loss[a] < loss[b]
      : (a: number, b: number) => (correct[a] !== correct[b] ? correct[a] > correct[b] : loss[a] > loss[b]);
  const chosen: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let j = 0; j < ipc; j++) {
      let best = c * ipc * m + j;
      for (let q = 1; q < m; q++) {
        const cand = c * ipc * m + j + q * ipc;
        if (better(cand, best)) best = cand;
      }
      chosen.push(best);
    }
  }
  return gather(candidates, chosen);
}

const sqDist = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += (a[i] - b[i]) ** 2;
  return d;
};

/** Per class: the k-means clusters of its ipc·m candidates (indices into the class block). */
export interface ClassClusters {
  /** members[k]: the class-block indices of cluster k. */
  members: number[][];
  /** centre[k]: the class-block index of the candidate nearest cluster k's centre (distinct across k). */
  centre: number[];
}

/** Per class: k-means++ then Lloyd iterations over the class's ipc·m candidates, in pixel space (optionally weighted: kmeansOfPoints). */
export function kmeansClusters(pool: CandidatePool, iterations = 25, weights?: ArrayLike<number>): ClassClusters[] {
  const points = Array.from({ length: pool.candidates.count }, (_, i) => imageOf(pool.candidates, i));
  return kmeansOfPoints(points, pool, iterations, weights);
}

/**
 * The same over any vectors of the candidates (`points[i]` describes candidate i, in the pool's
 * class blocks). `weights[i]` (default 1) scales candidate i in the k-means++ draw and the centre
 * means, so that heavier regions get more centres.
 */
export function kmeansOfPoints(
  points: Float32Array[],
  { classes, ipc, m, seed }: Omit<CandidatePool, "candidates">,
  iterations = 25,
  weights?: ArrayLike<number>,
): ClassClusters[] {
  checkPool("k-means", points.length, { classes, ipc, m });
  if (weights && (weights.length !== points.length || Array.from(weights).some((w) => !(w > 0))))
    throw new Error(`k-means: needs one positive weight per candidate (${points.length})`);
  const per = points[0].length;
  const n = ipc * m;
  const out: ClassClusters[] = [];
  for (let c = 0; c < classes; c++) {
    const xs = points.slice(c * n, (c + 1) * n);
    const w = (i: number) => (weights ? weights[c * n + i] : 1);
    const rng = new Random(seed, `kmeans-${c}`);
    // k-means++: the first centre drawn by weight (uniformly without weights), each next by weight × squared distance
    const draw = (mass: Float64Array) => {
      let r = rng.next() * mass.reduce((a, b) => a + b, 0),
        pick = 0;
      while (pick < n - 1 && (r -= mass[pick]) > 0) pick++;
      return pick;
    };
    const centres = [Float32Array.from(xs[weights ? draw(Float64Array.from(xs, (_, i) => w(i))) : rng.int(n)])];
    const nearest = new Float64Array(n).fill(Infinity);
    while (centres.length < ipc) {
      xs.forEach((x, i) => (nearest[i] = Math.min(nearest[i], w(i) * sqDist(x, centres.at(-1)!))));
      centres.push(Float32Array.from(xs[draw(nearest)]));
    }
    const assign = new Int32Array(n);
    const assignAll = () =>
      xs.forEach((x, i) => {
        let best = 0,
          bestD = Infinity;
        centres.forEach((ctr, k) => {
          const d = sqDist(x, ctr);
          if (d < bestD) {
            bestD = d;
            best = k;
          }
        });
        assign[i] = best;
      });
    for (let it = 0; it < iterations; it++) {
      assignAll();
      centres.forEach((ctr, k) => {
        const members = xs.flatMap((_, i) => (assign[i] === k ? [i] : []));
        if (members.length === 0) return; // an empty cluster keeps its centre
        const mass = members.reduce((a, i) => a + w(i), 0);
        ctr.fill(0);
        for (const i of members) for (let q = 0; q < per; q++) ctr[q] += (w(i) * xs[i][q]) / mass;
      });
    }
    assignAll();
    const used = new Set<number>();
    const centre = centres.map((ctr) => {
      let best = -1,
        bestD = Infinity;
      xs.forEach((x, i) => {
        const d = sqDist(x, ctr);
        if (!used.has(i) && d < bestD) {
          bestD = d;
          best = i;
        }
      });
      used.add(best);
      return best;
    });
    const members = centres.map((_, k) => xs.flatMap((_, i) => (assign[i] === k ? [i] : [])));
    out.push({ members, centre });
  }
  return out;
}

/** Per class: k-means (k = ipc) over all its candidates in pixel space and the candidate nearest each centre. */
export function selectKMeans(pool: CandidatePool, iterations = 25): Selection {
  return centresOf(pool, kmeansClusters(pool, iterations));
}

/** The candidate nearest each cluster's centre, class by class. */
export function centresOf({ candidates, ipc, m }: CandidatePool, clusters: ClassClusters[]): Selection {
  return gather(
    candidates,
    clusters.flatMap((cl, c) => cl.centre.map((i) => c * ipc * m + i)),
  );
}

/**
 * Per class: k-means (k = ipc) over the teacher's view of its candidates — log-softmax of the
 * logits at the relabel temperature, the very targets a student learns from — and the candidate
 * nearest each centre. Pixel k-means spreads the set over how the images look; this spreads it
 * over what the teacher says about them (which other classes each resembles), so that the
 * student's soft targets cover the teacher's dark knowledge rather than its most common answer.
 */
export async function selectKMeansLabels(pool: CandidatePool, teacher: TeacherView): Promise<Selection> {
  const { candidates, classes } = pool;
  checkPool("selectKMeansLabels", candidates.count, pool);
  const logits = await teacherLogits(teacher, candidates);
  const points = Array.from({ length: candidates.count }, (_, i) =>
    logSoftmax(logits.subarray(i * classes, (i + 1) * classes), teacher.temperature),
  );
  return centresOf(pool, kmeansOfPoints(points, pool));
}

/** The selections that need no student: the start `kind` chooses from the pool (the others: selection-kinds.ts). */
export async function selectFromPool(
  kind: PoolSelectionKind,
  pool: CandidatePool,
  teacher: TeacherView,
): Promise<Selection> {
  if (kind === "kmeans") return selectKMeans(pool);
  if (kind === "kmeans-labels") return await selectKMeansLabels(pool, teacher);
  return await selectByTeacher(kind, pool, teacher);
}
