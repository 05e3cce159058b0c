// Selection by a probe student: one round of active learning with the teacher as the oracle.
// A student trained on the k-means representatives (as evaluate trains one: the same crops, soft
// labels and recipe) shows where it still disagrees with the teacher. Each k-means cluster then
// keeps, instead of the candidate nearest its centre, the member the probe student gets most
// wrong — the highest KL(teacher ‖ student) at the relabel temperature — among those the teacher
// classifies correctly: the set keeps k-means' coverage and spends each image where a student
// trained on the representatives still has something to learn.
// probe-cover ("cover"): instead of one outlier per cluster, k-means once more with each candidate
// weighted 1 + KL / (its class's mean KL) (teacher-wrong candidates weight 1), and the candidate
// nearest each centre: the set still covers the class as k-means does (half the weight is the
// density), but centres move toward the regions the probe has not learnt.
import type { Graph } from "../graph/graph.ts";
import { Classifier } from "../runtime/inference.ts";
import { argmax } from "./accuracy.ts";
import type { ImageSet } from "./crops.ts";
import { softmaxRows } from "./softmax.ts";
import {
  centresOf,
  gather,
  kmeansClusters,
  logitsOf,
  teacherLogits,
  type CandidatePool,
  type ClassClusters,
  type Selection,
  type TeacherView,
} from "./select-real.ts";

export interface ProbeSelection extends Selection {
  /** Mean KL(teacher ‖ probe) over all candidates and over the chosen ones (the probe's blind spots). */
  meanKl: { candidates: number; chosen: number };
  /** Top-1 of the probe student on what trainProbe scores it on (the pipeline: held-out training images). */
  probeAccuracy: number;
}

/** KL(p ‖ q) of each row of two logit matrices at temperature t. */
export function klRows(teacher: Float32Array, student: Float32Array, classes: number, t: number): Float64Array {
  const rows = teacher.length / classes;
  const p = new Float32Array(teacher.length);
  const q = new Float32Array(student.length);
  softmaxRows(teacher, rows, classes, t, p);
  softmaxRows(student, rows, classes, t, q);
  const kl = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < classes; k++) {
      const a = p[r * classes + k];
      if (a > 0) s += a * Math.log(a / Math.max(q[r * classes + k], 1e-30));
    }
    kl[r] = s;
  }
  return kl;
}

/**
 * `trainProbe` trains a student on a set (class c's images are c·ipc … c·ipc + ipc − 1) and
 * returns it frozen.
 */
export async function selectByProbe(
  pool: CandidatePool,
  teacher: TeacherView,
  trainProbe: (set: ImageSet) => Promise<{ graph: Graph; accuracy: number }>,
  rule: "blind-spot" | "cover" = "blind-spot",
): Promise<ProbeSelection> {
  const { candidates, classes, ipc, m } = pool;
  const clusters = kmeansClusters(pool);
  const n = ipc * m;
  const probe = await trainProbe(centresOf(pool, clusters));
  const fromTeacher = await teacherLogits(teacher, candidates);
  const clf = await Classifier.fromGraph(probe.graph, teacher);
  let fromProbe: Float32Array;
  try {
    fromProbe = await logitsOf(clf, candidates, teacher.stats, teacher.batch);
  } finally {
    await clf.release();
  }
  const kl = klRows(fromTeacher, fromProbe, classes, teacher.temperature);
  const teacherRight = (i: number) => argmax(fromTeacher, i * classes, classes) === Math.floor(i / n);
  const chosen =
    rule === "cover" ? coverChoice(pool, kl, teacherRight) : blindSpotChoice(clusters, n, kl, teacherRight);
  const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
  return {
    ...gather(candidates, chosen),
    meanKl: { candidates: mean(kl), chosen: mean(chosen.map((i) => kl[i])) },
    probeAccuracy: probe.accuracy,
  };
}

/** Of each cluster, the member with the highest KL (teacher-correct ones first); indices into the whole pool. */
function blindSpotChoice(
  clusters: ClassClusters[],
  n: number,
  kl: Float64Array,
  teacherRight: (i: number) => boolean,
): number[] {
  const chosen: number[] = [];
  clusters.forEach((cl, c) => {
    const used = new Set<number>();
    const better = (a: number, b: number) => (teacherRight(a) !== teacherRight(b) ? teacherRight(a) : kl[a] > kl[b]);
    cl.members.forEach((members, k) => {
      // a cluster's own members and its centre, minus what an earlier cluster took (the centre
      // nearest one cluster may belong to another); a class whose candidates ran out takes any
      const own = [...members, cl.centre[k]].map((i) => c * n + i).filter((i) => !used.has(i));
      const open = own.length > 0 ? own : Array.from({ length: n }, (_, i) => c * n + i).filter((i) => !used.has(i));
      const best = open.reduce((a, b) => (better(b, a) ? b : a));
      used.add(best);
      chosen.push(best);
    });
  });
  return chosen;
}

/** Pixel k-means with each candidate weighted 1 + KL / (class mean KL) where the teacher is right, else 1. */
function coverChoice(pool: CandidatePool, kl: Float64Array, teacherRight: (i: number) => boolean): number[] {
  const { candidates, classes, ipc, m } = pool;
  const n = ipc * m;
  const weights = new Float64Array(candidates.count);
  for (let c = 0; c < classes; c++) {
    let sum = 0;
    for (let i = c * n; i < (c + 1) * n; i++) sum += kl[i];
    const mean = sum / n;
    for (let i = c * n; i < (c + 1) * n; i++) weights[i] = 1 + (teacherRight(i) && mean > 0 ? kl[i] / mean : 0);
  }
  return kmeansClusters(pool, 25, weights).flatMap((cl, c) => cl.centre.map((i) => c * n + i));
}
