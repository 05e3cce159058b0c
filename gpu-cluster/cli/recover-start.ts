// Recover's starting images: (b)'s random subset, or a selection among real candidates per image
// (--select: k-means, typical, probe, factorial, …), chosen once per run folder (start.json).
import { subset } from "../data/index.ts";
import { writeJsonAtomic } from "../io/atomic-write.ts";
import { selectFromPool, type Selection } from "../stages/select-real.ts";
import { isPoolSelection, needsProbe, SELECTIONS } from "../stages/selection-kinds.ts";
import { selectByProbe, type ProbeSelection } from "../stages/select-probe.ts";
import { selectFactorial, type FactorialSelection } from "../stages/select-factorial.ts";
import { SCREEN_IMAGES } from "../stages/gate-screen.ts";
import { realImagesAt, type RealSubset } from "../stages/random-subset.ts";
import type { ImageSet } from "../stages/crops.ts";
import { canonicalJson, sha256 } from "./run-folder.ts";
import { readJsonIfValid } from "../io/read-file.ts";
import type { RunContext } from "./run-context.ts";

/** --select factorial's start: the composed draw and the design's record. */
type FactorialStart = RealSubset & { factorial: Omit<FactorialSelection, "set"> };

export class RecoverStart {
  constructor(private readonly ctx: RunContext) {}

  private get o() {
    return this.ctx.o;
  }

  /**
   * The start's selection in recover's stage config: its kind and what it reads besides the teacher
   * (select), and the recipe of the students it trains (probe), which decides the images too.
   */
  selectionConfig() {
    const o = this.o;
    const needs = this.ctx.selectionNeeds();
    if (!needs) return {};
    const select = [
      o.select,
      ...(needs.pool ? [o.selectFrom] : []),
      ...(needs.temperature ? [o.temperature] : []),
      ...(needs.students?.epochs === "screen" ? [SCREEN_IMAGES] : []),
    ];
    return {
      select: o.select === "random" ? undefined : select,
      probe: needs.students && {
        student: this.ctx.studentConfig(o.students[0]),
        epochs: needs.students.epochs === "screen" ? this.ctx.screenEpochs : this.ctx.epochsOf(this.ctx.ourImages),
        relabel: this.ctx.relabelConfig(needs.students.labels, this.ctx.ourImages),
      },
    };
  }

  /** Recover's starting images at --image-bits (a selection's record kept); undefined for --init noise. */
  async images(): ReturnType<RecoverStart["initialRealImages"]> {
    const tf = this.ctx.teacher();
    const start = await this.initialRealImages(tf.bytes, tf.classes);
    if (!start || this.ctx.imageBits === 8) return start;
    return { ...start, pixels: this.ctx.atRunDepth(start.pixels) };
  }

  /** The real images recover starts from: (b)'s random subset, or a selection among --select-from candidates per image. */
  async initialRealImages(
    teacher: Uint8Array,
    classes: number,
  ): Promise<ImageSet | ProbeSelection | FactorialStart | undefined> {
    const o = this.o;
    if (o.init === "noise") return undefined;
    if (o.init !== "real" && o.select !== "random")
      throw new Error(`--select ${o.select} applies to --init real, not --init ${o.init}: add --select random`);
    if (o.select === "factorial") return await this.chosenOnce(() => this.factorialStart());
    const { candidates, m } = this.ctx.startCandidates();
    if (m === 1 || !SELECTIONS[o.select].pool) return candidates;
    const what = `the ${SELECTIONS[o.select].describe} of ${m} real candidates per image`;
    return await this.chosenOnce(async () => {
      this.ctx.log(`recover: start from ${what}`);
      const pool = { candidates, classes, ipc: this.ctx.perClass, m, seed: o.seed };
      const view = { ...this.ctx.compile, onnx: teacher, stats: this.ctx.teacherStats(), temperature: o.temperature };
      const sourced = <T extends Selection>(r: T) => ({ ...r, sources: r.chosen.map((i) => candidates.sources[i]) });
      if (isPoolSelection(o.select)) return sourced(await selectFromPool(o.select, pool, view));
      if (!needsProbe(o.select)) throw new Error(`--select ${o.select}: no way to choose from a pool`);
      const r = await selectByProbe(
        pool,
        view,
        (set) => this.ctx.probeStudent(set, this.ctx.epochsOf(set.count), "probe"),
        o.select === "probe" ? "blind-spot" : "cover",
      );
      this.ctx.log(
        `recover: probe student ${(100 * r.probeAccuracy).toFixed(2)} % on held-out training images; KL(teacher ‖ probe) ${r.meanKl.chosen.toFixed(4)} on the chosen images, ${r.meanKl.candidates.toFixed(4)} on all candidates`,
      );
      return sourced(r);
    });
  }

  /**
   * The start's selection, made once per run folder (as image-bits.json is): start.json holds the
   * chosen training images' indices and the selection's record under the key of what decides them,
   * so a cluster run's later tasks (gate students, the relabel shard that decides, merge) and a
   * rerun after a crash read it back instead of choosing again (k-means; a probe student; 27 short
   * students for factorial).
   */
  private async chosenOnce<T extends ImageSet & { sources: number[] }>(choose: () => Promise<T>): Promise<T> {
    const key = sha256(
      canonicalJson({
        teacher: sha256(this.ctx.teacher().bytes),
        data: this.ctx.dataId(),
        seed: this.o.seed,
        perClass: this.ctx.perClass,
        ...this.selectionConfig(),
      }),
    );
    const file = this.ctx.run.path("start.json");
    const stored = readJsonIfValid<{ key?: string; sources?: number[]; record?: object }>(file);
    if (stored?.key === key && stored.sources?.length === this.ctx.teacher().classes * this.ctx.perClass) {
      this.ctx.log(`recover: start from the ${SELECTIONS[this.o.select].describe} (chosen before: start.json)`);
      return { ...stored.record, ...realImagesAt(this.ctx.data.train, stored.sources) } as unknown as T;
    }
    const chosen = await choose();
    // the pixels are the training images at `sources`: what is stored beside them is the record
    const record = Object.fromEntries(Object.entries(chosen).filter(([k]) => !IMAGE_SET_FIELDS.has(k)));
    writeJsonAtomic(file, { key, sources: chosen.sources, record });
    return chosen;
  }

  /** --select factorial: short students on an orthogonal array of the draws' classes, scored on training images of their own. */
  private async factorialStart(): Promise<FactorialStart> {
    const { train } = this.ctx.data;
    const images = subset(train, this.ctx.screenImages(), `${train.name}/screen`);
    const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
    const r = await selectFactorial(
      this.ctx.selectionDraws(),
      train.classes.length,
      this.o.ipc,
      async (set, run, runs) => {
        // one crop schedule for every run (common random numbers): the runs differ in their images alone
        const { accuracy } = await this.ctx.probeStudent(set, this.ctx.screenEpochs, "factorial", { scoreOn: images });
        this.ctx.log(`recover: factorial run ${run + 1}/${runs} (${this.ctx.screenEpochs} epochs): ${pct(accuracy)}`);
        return accuracy;
      },
    );
    this.ctx.log(
      `recover: each class's images from draw ${r.levels.map((l) => l + 1).join(" ")} (1 = (b)'s); the additive model's score ${pct(r.predicted)}, (b)'s set ${pct(r.scores[0])}, the runs' best ${pct(Math.max(...r.scores))} on ${images.labels.length} training images of their own`,
    );
    const { set, ...factorial } = r;
    return { ...set, factorial };
  }
}

/** What start.json rebuilds from the training images rather than storing (RecoverStart.chosenOnce). */
const IMAGE_SET_FIELDS = new Set(["pixels", "labels", "sources", "count", "channels", "size"]);
