// The recover gate of one run: a full student on each candidate set ((b)'s random images, the further
// draws, the start, the recovered images), scored on training images none of them came from, and the
// set kept (stages/recover-gate.ts decides; this trains, caches and logs). Its students go to the
// run's student cache, where evaluate finds ours and (b)'s instead of training them again.
import { subset } from "../data/index.ts";
import { gateCandidates } from "../../shared/gate-candidates.ts";
import { SCREEN_IMAGES, screenDraws, type ScreenResult } from "../stages/gate-screen.ts";
import {
  GATE_SCORING_IMAGES,
  gateZ,
  recoverGate,
  type GateCandidate,
  type GateResult,
} from "../stages/recover-gate.ts";
import { relabel } from "../stages/relabel.ts";
import type { ImageSet } from "../stages/crops.ts";
import type { TeacherSource } from "../stages/teacher-graph.ts";
import { mean, percent } from "./summary-stats.ts";
import { labelSourceKey, studentKey } from "./student-cache.ts";
import type { RunContext } from "./run-context.ts";
import { GateHelpers, gateWorkers, HARD_BASELINE, type HelperTask } from "./gate-helpers.ts";

export class GateRun {
  // cachedStudent's answers by set (the key does not depend on the table's name)
  private readonly studentsBySet = new WeakMap<ImageSet, Promise<{ key: string; onnx: Uint8Array }>>();

  /** --gate-screen's outcome, screened once. */
  private screened?: Promise<ScreenResult>;

  /** --gate-workers: the processes training the random draws' students beside this one. */
  private helpers?: GateHelpers;

  /** The helpers go on with baseline (a)'s students once the draws are taken (the pipeline says where evaluate needs them). */
  hardBaselineForHelpers = false;

  constructor(private readonly ctx: RunContext) {}

  private get o() {
    return this.ctx.o;
  }

  /** The recover gate runs for real-image starts, unless --no-recover-gate, where training images are left to score it on. */
  applies(): boolean {
    return this.o.recoverGate && this.o.init === "real" && this.ctx.gateScoring() !== null;
  }

  /**
   * The gate's candidate names, least processed first (its stage config and its order): (b)'s
   * random subset (the start itself under --select random), the further draws, start, recovered.
   */
  candidates(): GateCandidate[] {
    return gateCandidates({ select: this.o.select, draws: this.ctx.gateDraws, imageBits: this.ctx.imageBits });
  }

  /** What decides the gate: its candidates, scoring rule, student recipe and labels (recover's stage config holds it). */
  config() {
    return {
      candidates: this.candidates(),
      scoring: { images: GATE_SCORING_IMAGES, z: gateZ(this.ctx.gateDraws, this.o.gateKeep) },
      student: this.ctx.studentRecipe(this.o.students[0]),
      relabel: this.ctx.relabelConfig("gate"),
      // the gate's further draws are the best of this many by short students
      screen:
        this.o.gateScreen > 0
          ? { draws: this.o.gateScreen, epochs: this.ctx.screenEpochs, images: SCREEN_IMAGES }
          : undefined,
    };
  }

  /** The gate's candidate image sets, in the order of `names`. */
  private sets(
    start: ImageSet,
    recovered: Float32Array,
    names = this.candidates(),
  ): { name: GateCandidate; set: ImageSet }[] {
    const byName = this.setsByName(start, recovered);
    return names.map((name) => ({ name, set: byName.get(name)! }));
  }

  /** The candidates' image sets by name: the random draws, and the start and recovered sets where given. */
  private setsByName(start?: ImageSet, recovered?: Float32Array): Map<GateCandidate, ImageSet> {
    const byName = new Map<GateCandidate, ImageSet>(this.ctx.randomDraws().map((d) => [d.name, d.set] as const));
    if (start) byName.set("start", start);
    if (start && recovered) byName.set("recovered", { ...start, pixels: recovered });
    return byName;
  }

  /**
   * The gate's student of one candidate, trained into the student cache unless it is there: a
   * cluster run's gate task, or a --gate-workers helper's (a random draw: no start or recovered set).
   */
  async student(name: GateCandidate, start?: ImageSet, recovered?: Float32Array): Promise<"ran" | "skipped"> {
    const byName = this.setsByName(start, recovered);
    const set = byName.get(name);
    if (!set)
      throw new Error(
        `the recover gate has no candidate named ${name} that this task can train (those it can: ${[...byName.keys()].join(", ")})`,
      );
    if (this.knownStudent(set, "gate")) return "skipped";
    this.ctx.log(`recover gate: this process trains the student of the ${name} images`);
    const { key } = await this.cachedStudent(set, "gate");
    this.ctx.log(`recover gate: the student of the ${name} images is students/${key}.onnx`);
    return "ran";
  }

  /**
   * --gate-workers N > 1 (auto: gateWorkers()): N − 1 helper processes start on the students of the
   * random draws the gate weighs (those not in the student cache): they need nothing from recover,
   * so recover calls this before it starts. With --gate-screen the draws are known after the
   * screen: the gate calls it then.
   */
  startHelpers(screen?: ScreenResult): void {
    if (this.helpers || this.o.gateWorkers === 1 || (this.o.gateScreen > 0 && !screen)) return;
    const weighed = new Set(this.order(screen));
    const draws = this.ctx
      .randomDraws()
      .filter((d) => weighed.has(d.name) && !this.knownStudent(d.set, "gate"))
      .map((d) => d.name);
    const after: HelperTask[] = this.hardBaselineForHelpers ? [HARD_BASELINE] : [];
    const workers = gateWorkers(this.o.gateWorkers, draws.length + after.length);
    if (draws.length + after.length === 0 || workers < 2) return;
    this.helpers = new GateHelpers(
      this.o,
      this.ctx.run.dir,
      draws,
      workers - 1,
      (m) => this.ctx.log(m),
      (n) => (this.ctx.sharingCores = n),
      after,
    );
  }

  /** Kills helpers still training (the run failed, or ended without waiting for them). */
  stopHelpers(): void {
    this.helpers?.stop();
  }

  /** Waits for a helper's task where a helper has it (its failure names its log). */
  async helperFinished(task: HelperTask): Promise<void> {
    await this.helpers?.finished(task);
  }

  /**
   * With helpers: this process trains the candidates they do not (the start and recovered sets,
   * then draws no helper has taken, last first), then waits for theirs.
   */
  private async trainBesideHelpers(names: GateCandidate[], start: ImageSet, recovered: Float32Array): Promise<void> {
    const helpers = this.helpers;
    if (!helpers) return;
    for (const name of names) if (name === "start" || name === "recovered") await this.student(name, start, recovered);
    for (let name = helpers.takeLast(); name; name = helpers.takeLast()) await this.student(name, start, recovered);
    await helpers.done();
  }

  /**
   * Full students on (b)'s random images, the starting and the recovered images, scored on the
   * training images none of them came from; the set kept (stages/recover-gate.ts). The students
   * go to the run's student cache: the kept set's is ours and the random set's is (b), so evaluate
   * scores them on the val set instead of training them again (and a rerun of the gate reuses them).
   * With `missing`, a student not in the cache is not trained: its error is thrown instead (a
   * cluster run, whose gate tasks train them).
   */
  async run(
    start: ImageSet,
    recovered: Float32Array,
    missing?: (name: GateCandidate) => Error,
  ): Promise<
    GateResult & { pixels: Float32Array; students: Partial<Record<GateCandidate, string>>; screen?: ScreenResult }
  > {
    const scoring = this.ctx.gateScoring()!;
    const screen = this.o.gateScreen > 0 ? await (this.screened ??= this.screen()) : undefined;
    const sets = this.sets(start, recovered, this.order(screen));
    if (!missing) {
      this.startHelpers(screen);
      await this.trainBesideHelpers(
        sets.map((c) => c.name),
        start,
        recovered,
      );
    }
    const students: Partial<Record<GateCandidate, string>> = {};
    const g = await recoverGate(
      sets,
      async (set) => {
        const i = sets.findIndex((c) => c.set === set);
        const name = sets[i].name;
        const known = this.knownStudent(set, "gate");
        if (missing && !known) throw missing(name);
        // one line per candidate: a gate of 7 full students is most of an IPC 1 run, and a resumed run reuses them
        const which = `recover gate: student ${i + 1}/${sets.length}, the ${name} images`;
        this.ctx.log(`${which}: ${known ? `trained before (students/${known.key}.onnx)` : "training"}`);
        const student = known || (await this.cachedStudent(set, "gate"));
        students[name] = student.key;
        const correct = await this.ctx.correctOn(student.onnx, scoring);
        this.ctx.log(`${which}: ${percent(mean(Array.from(correct)))} % of the ${correct.length} scoring images`);
        return correct;
      },
      gateZ(this.ctx.gateDraws, this.o.gateKeep),
    );
    const scores = sets.map(
      ({ name }) =>
        `${name} ${(100 * g.scores[name]!).toFixed(2)} %` + (name in g.z ? ` (z ${g.z[name]!.toFixed(2)})` : ""),
    );
    this.ctx.log(
      `recover gate: students on ${scoring.labels.length} training images no candidate came from: ${scores.join(", ")}; kept the ${g.kept} images`,
    );
    return { ...g, students, screen, pixels: sets.find((c) => c.name === g.kept)!.set.pixels };
  }

  /** The gate's candidates in its order; with a screen, its chosen draws (best first) in the draws' places. */
  private order(screen?: ScreenResult): GateCandidate[] {
    const chosen = [...(screen?.chosen ?? [])];
    return this.candidates().map((name) => (screen && name.startsWith("draw-") ? chosen.shift()! : name));
  }

  /**
   * --gate-screen: a short student on (b)'s subset and on each of the screened draws, scored on the
   * screening images; the gate weighs the --gate-draws − 1 best (stages/gate-screen.ts).
   */
  private async screen(): Promise<ScreenResult> {
    const { train } = this.ctx.data;
    const images = subset(train, this.ctx.screenImages(), `${train.name}/screen`);
    const r = await screenDraws(
      this.ctx.randomDraws(),
      // trainStudent scores the final student on the images it is given: the screening images
      async (set, name) =>
        (await this.ctx.probeStudent(set, this.ctx.screenEpochs, `screen-${name}`, { scoreOn: images })).accuracy,
      this.ctx.gateDraws - 1,
      "random",
    );
    const scores = Object.entries(r.scores).map(([name, v]) => `${name} ${(100 * v!).toFixed(2)} %`);
    this.ctx.log(
      `recover gate: ${this.ctx.screenEpochs}-epoch students on ${images.labels.length} training images of their own: ${scores.join(", ")}; the gate weighs ${r.chosen.join(", ")}`,
    );
    return r;
  }

  /** Recover's competing student: the gate's student on the starting images (trained once; the gate reuses it). */
  async competitor(start: ImageSet): Promise<TeacherSource> {
    const { key, onnx } = await this.cachedStudent(start, "gate");
    this.ctx.log(`recover: competing with the student of the starting images (students/${key}.onnx)`);
    return { kind: "onnx", bytes: onnx, file: this.ctx.run.path("students", `${key}.onnx`) };
  }

  /**
   * A full student of the run on `set` with its own soft labels, from the student cache or trained
   * into it. The answer is kept per set for the run (recover's competitor and the gate ask for the
   * start's student); a later run finds the student by its label source without relabelling.
   */
  private cachedStudent(set: ImageSet, name: string): Promise<{ key: string; onnx: Uint8Array }> {
    let student = this.studentsBySet.get(set);
    if (!student) this.studentsBySet.set(set, (student = this.studentOf(set, name)));
    return student;
  }

  /** What a run's student on `set` is trained from (labels named `name`), and the key the cache records it by. */
  private studentSource(set: ImageSet, name: string) {
    const tf = this.ctx.teacher();
    const recipe = this.ctx.studentRecipe(this.o.students[0], this.o.seed, set.count);
    const source = {
      teacher: tf.bytes,
      stats: this.ctx.teacherStats(),
      classes: tf.classes,
      relabel: this.ctx.relabelConfig(name, set.count),
    };
    return { recipe, source, sourceKey: labelSourceKey(set, source, recipe) };
  }

  /** The run's student on `set` if the student cache has it (no relabel, no training). */
  private knownStudent(set: ImageSet, name: string): { key: string; onnx: Uint8Array } | undefined {
    return this.ctx.studentCache.bySource(this.studentSource(set, name).sourceKey);
  }

  private async studentOf(set: ImageSet, name: string): Promise<{ key: string; onnx: Uint8Array }> {
    const cache = this.ctx.studentCache;
    const { recipe, source, sourceKey } = this.studentSource(set, name);
    const known = cache.bySource(sourceKey);
    if (known) return known;
    const labels = await relabel(source.teacher, source.stats, set, source.classes, source.relabel, {
      ...this.ctx.compile,
      label: `relabel-${name}`,
    });
    const key = studentKey(set, labels.table, recipe);
    let onnx = cache.get(key);
    if (!onnx) {
      // `name` is the labels' name ("gate" for every candidate): the line before says which set this is
      const checkpoints = cache.checkpoints(key, (file) =>
        this.ctx.log(`recover gate: this student goes on from its checkpoint (${file})`),
      );
      const { graph } = await this.ctx.probeStudent(set, recipe.epochs, name, { table: labels.table, checkpoints });
      onnx = cache.put(key, graph);
    }
    cache.recordSource(sourceKey, key);
    return { key, onnx };
  }
}
