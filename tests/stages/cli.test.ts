// The `distill` command end to end on a tiny image-folder dataset: every stage runs, the run
// folder holds what README promises, the report has the baselines, a rerun skips every stage,
// `--force` redoes them, and bad input stops with a message naming the problem.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import { writePng } from "../../gpu-cluster/io/png.ts";
import { parseReport } from "../../gpu-cluster/cli/report.ts";
import { mean } from "../../gpu-cluster/cli/summary-stats.ts";
import { parseManifest } from "../../shared/manifest.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { readTeacherFile } from "../../gpu-cluster/stages/teacher-file.ts";
import { readNpy } from "../../gpu-cluster/io/npy.ts";
import { unpackImages } from "../../shared/image-bits.ts";
import { loadLocalImages } from "../../gpu-cluster/cli/train.ts";
import { distill, without, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "cli");
const data = join(root, "quadrants");
const out = join(root, "run");
// the features below at 8 bits, whose image counts they check (auto, the default, has its own test below)
const tiny = [
  "--image-bits",
  "8",
  "--data",
  data,
  "--out",
  out,
  "--ipc",
  "2",
  "--seed",
  "1",
  "--teacher-arch",
  "convnet-2",
  "--teacher-width",
  "8",
  "--teacher-epochs",
  "3",
  "--iterations",
  "30",
  "--recover-batch",
  "8",
  "--epochs",
  "8",
  "--students",
  "convnet-2",
  "--student-width",
  "8",
  "--student-batch",
  "4",
  "--student-lr",
  "0.01",
  "--threads",
  "1",
  "--quiet",
];

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  writeQuadrants(data, 30); // 4 classes of 16×16 gray images: a bright square in quadrant c
});

/** The first task of a one-shard cluster stage, as a job script runs it. */
const shardTask = (stage: string, args: string[]) =>
  distill(["shard", stage, ...args, "--recover-shards", "1", "--relabel-shards", "1", "--index", "0"]);

describe("distill run", () => {
  it("runs all stages, writes the run folder and a report with the baselines; reruns skip", () => {
    const first = distill(["run", ...tiny.filter((a) => a !== "--quiet")]);
    expect(first.status, first.stderr).toBe(0);
    for (const f of [
      "teacher.onnx",
      "images.npy",
      "grid.png",
      "images/000007.png",
      "labels.dlt",
      "manifest.json",
      "report.md",
      "report.json",
      "baselines/labels-random.dlt",
      "stages.json",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // the recover gate ran (a held-out split of 10 images fits 4 classes)
    const gate = JSON.parse(readFileSync(join(out, "recover.json"), "utf8")).gate;
    expect(Object.keys(gate.scores)).toEqual(["random", "start", "recovered"]);
    for (const v of Object.values(gate.scores) as number[]) expect(v >= 0 && v <= 1, String(v)).toBe(true);
    expect(Object.keys(gate.z)).toEqual(["start", "recovered"]); // each tested against the set kept before it
    expect(gate.scores[gate.kept]).toBeGreaterThanOrEqual(gate.scores.random);
    // its students, one per candidate set, are ours and (b): evaluate and the baselines score them;
    // (a)'s student is the fourth
    expect(readdirSync(join(out, "students")).filter((f) => f.endsWith(".onnx"))).toHaveLength(4);
    for (const key of Object.values(gate.students) as string[])
      expect(existsSync(join(out, "students", `${key}.onnx`)), key).toBe(true);
    expect(first.stderr).toMatch(/convnet-2 ours: the recover gate's student/);
    // the gate shows each candidate's student as it comes: trained, then its score
    // --gate-workers auto: on 2 or more cores a helper process trains the random images' student while recover runs
    // and then (a)'s students, which evaluate finds in the cache
    if (availableParallelism() >= 2) {
      expect(first.stderr).toContain("recover gate: a helper process trains the student of the random images");
      expect(first.stderr).toContain("recover gate: the helper finished baseline (a)'s students");
      expect(first.stderr).toMatch(/convnet-2 \(a\): trained before \(students\/\w+\.onnx\)/);
    }
    expect(first.stderr).toMatch(/recover gate: student 1\/3, the random images: (training|trained before)/);
    expect(first.stderr).toMatch(
      /recover gate: student 3\/3, the recovered images: \d+\.\d\d % of the \d+ scoring images/,
    );
    expect(first.stderr).toMatch(/convnet-2 \(b\): the recover gate's student/);
    const report = parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(report.ipc).toBe(2);
    expect(report.student_widths).toEqual({ "convnet-2": 8 });
    expect(report.classes).toBe(4);
    expect(report.student_epochs).toBe(8); // --epochs
    expect(report.gate).toEqual({ kept: gate.kept, scores: gate.scores });
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain(`gate kept the **${gate.kept}** images`);
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/same recipe \(8 epochs\)/);
    expect(report.teacher_accuracy).toBeGreaterThan(0.9);
    const s = report.students["convnet-2"];
    for (const v of [s.distilled, s.random_hard, s.random_soft]) expect(v).toBeGreaterThan(0.5); // chance is 0.25
    expect(first.stdout).toMatch(/\| convnet-2 \|/);
    const manifest = parseManifest(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    const table = decodeLabelTable(new Uint8Array(readFileSync(join(out, "labels.dlt"))));
    expect(table.header.images).toBe(manifest.images);
    expect(table.header.epochs).toBe(8);
    // without those students, ours and (b) are trained again, to the same accuracy
    for (const f of ["students", "report.json", "baselines/results.json"]) rmSync(join(out, f), { recursive: true });
    const retrained = distill(["run", ...tiny]);
    expect(retrained.status, retrained.stderr).toBe(0);
    // ours and (b) are not kept (the gate's cache is recover's); (a)'s student is, as evaluate always keeps it
    expect(readdirSync(join(out, "students")).filter((f) => f.endsWith(".onnx"))).toHaveLength(1);
    const again0 = parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8"))).students["convnet-2"];
    expect([again0.distilled, again0.random_soft]).toEqual([s.distilled, s.random_soft]);

    const before = statSync(join(out, "labels.dlt")).mtimeMs;
    const again = distill(["run", ...tiny]);
    expect(again.status, again.stderr).toBe(0);
    expect(statSync(join(out, "labels.dlt")).mtimeMs).toBe(before);
    // A changed relabel setting redoes relabel and evaluate only.
    const changed = distill(["run", ...tiny, "--top-k", "2"]);
    expect(changed.status, changed.stderr).toBe(0);
    expect(decodeLabelTable(new Uint8Array(readFileSync(join(out, "labels.dlt")))).header.k).toBe(2);
    // A changed recover setting redoes recover onwards but keeps the baselines, which do not depend on the images.
    const mtime = (f: string) => statSync(join(out, f)).mtimeMs;
    const [baselines, images] = [mtime("baselines/results.json"), mtime("images.npy")];
    const recovered = distill(["run", ...tiny, "--top-k", "2", "--recover-lr", "0.02"]);
    expect(recovered.status, recovered.stderr).toBe(0);
    // the real candidates' students are the cache's (as in a resumed run); only the new recovered images' is trained
    expect(recovered.stderr).toMatch(
      /recover gate: student 1\/3, the random images: trained before \(students\/\w+\.onnx\)/,
    );
    expect(recovered.stderr).toMatch(/recover gate: student 3\/3, the recovered images: training/);
    expect(mtime("images.npy")).not.toBe(images);
    expect(mtime("baselines/results.json")).toBe(baselines);
    const kept = JSON.parse(readFileSync(join(out, "baselines/results.json"), "utf8"))["convnet-2"];
    const rerun = parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8"))).students["convnet-2"];
    expect([rerun.random_hard, rerun.random_soft]).toEqual([kept.random_hard, kept.random_soft]);
    // --select probe trains a probe student on the k-means choice, then starts recover from its blind spots
    const probed = distill(["run", ...tiny, "--top-k", "2", "--recover-lr", "0.02", "--select", "probe"]);
    expect(probed.status, probed.stderr).toBe(0);
    const probe = JSON.parse(readFileSync(join(out, "recover.json"), "utf8")).probe;
    expect(probe.accuracy).toBeGreaterThan(0.25); // chance is 0.25
    for (const kl of [probe.kl.chosen, probe.kl.candidates])
      expect(kl >= 0 && Number.isFinite(kl), String(kl)).toBe(true);
    expect(mtime("images.npy")).not.toBe(images);
    expect(mtime("baselines/results.json")).toBe(baselines);
    // the selection is made once per run folder (the k-means start's start.json, written above, had
    // another key): recover redone reads it back, with no probe student, and recovers the same images
    const probedImages = readFileSync(join(out, "images.npy"));
    const redone = distill([
      "recover",
      ...tiny,
      "--top-k",
      "2",
      "--recover-lr",
      "0.02",
      "--select",
      "probe",
      "--force",
    ]);
    expect(redone.status, redone.stderr).toBe(0);
    expect(redone.stderr).toContain("(chosen before: start.json)");
    expect(redone.stderr).not.toContain("recover: probe student");
    expect(JSON.parse(readFileSync(join(out, "recover.json"), "utf8")).probe).toEqual(probe);
    expect(readFileSync(join(out, "images.npy")).equals(probedImages)).toBe(true);
  });

  it("squeeze without --teacher-width widens an underfitting teacher and records both widths; a width asked for is kept", () => {
    const squeeze = (dir: string, width: string[]) => {
      rmSync(join(root, dir), { recursive: true, force: true });
      return distill([
        "squeeze",
        "--data",
        data,
        "--out",
        join(root, dir),
        "--teacher-epochs",
        "1",
        "--threads",
        "1",
        ...width,
      ]);
    };
    const widened = squeeze("widen", []);
    expect(widened.status, widened.stderr).toBe(0);
    expect(widened.stderr).toMatch(/width 32 underfits .*training width 64/);
    const t = JSON.parse(readFileSync(join(root, "widen", "teacher.json"), "utf8"));
    expect(t.widths_tried.map((w: { width: number }) => w.width)).toEqual([32, 64]);
    const best = t.widths_tried[1].holdout > t.widths_tried[0].holdout ? 64 : 32;
    expect(t.width).toBe(best);
    const asked = squeeze("asked", ["--teacher-width", "32"]);
    expect(asked.status, asked.stderr).toBe(0);
    const u = JSON.parse(readFileSync(join(root, "asked", "teacher.json"), "utf8"));
    expect(u.widths_tried.map((w: { width: number }) => w.width)).toEqual([32]);
    expect(u.widths_tried[0]).toEqual(t.widths_tried[0]); // the same first teacher
    // two teacher files given: their ensemble is imported as the teacher
    const both = [join(root, "asked", "teacher.onnx"), join(root, "widen", "teacher.onnx")];
    rmSync(join(root, "ensemble"), { recursive: true, force: true });
    const ens = distill(["squeeze", "--data", data, "--out", join(root, "ensemble"), "--teacher", both.join(",")]);
    expect(ens.status, ens.stderr).toBe(0);
    expect(readTeacherFile(join(root, "ensemble", "teacher.onnx")).note?.members?.[0]).toEqual({
      arch: "convnet-3",
      width: 32,
    });
  });

  it("stops on bad input with a message naming the problem", () => {
    const missing = distill(["run", "--data", join(root, "nope"), "--out", join(root, "bad")]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/does not exist/);
    const badIpc = distill(["run", "--ipc", "zero"]);
    expect(badIpc.status).not.toBe(0);
    expect(badIpc.stderr).toMatch(/--ipc must be an integer/);
    const badWorkers = distill(["run", "--gate-workers", "x"]);
    expect(badWorkers.status).not.toBe(0);
    expect(badWorkers.stderr).toMatch(/--gate-workers must be auto or an integer ≥ 1, got 'x'/);
    for (const deg of ["200", "-5", ""]) {
      const badRotate = distill(["run", "--rotate", deg]);
      expect(badRotate.status).not.toBe(0);
      expect(badRotate.stderr).toContain(`--rotate must be a number of degrees in [0, 180], got '${deg}'`);
    }
    const notOnnx = distill(["squeeze", "--teacher", join(data, "class0", "0.png"), "--out", join(root, "bad")]);
    expect(notOnnx.status).not.toBe(0);
    expect(notOnnx.stderr).toMatch(/not an ONNX model/);
    // a later stage on an empty folder names what is missing and how to make it
    const early = distill(["relabel", ...tiny.slice(0, 2), "--out", join(root, "empty")]);
    expect(early.status).not.toBe(0);
    expect(early.stderr).toMatch(/stage 'relabel' needs .*teacher\.onnx.*distill run/);
    // draws for a gate that is turned off are refused, not ignored
    const ungated = distill(["recover", ...tiny, "--gate-draws", "3", "--no-recover-gate"]);
    expect(ungated.status).not.toBe(0);
    expect(ungated.stderr).toMatch(/--gate-draws 3 .* drop --gate-draws/);
    const noisy = distill(["recover", ...tiny, "--gate-keep", "best", "--init", "noise"]);
    expect(noisy.status).not.toBe(0);
    expect(noisy.stderr).toMatch(/--gate-keep best sets the recover gate, which runs only with --init real/);
    // a screen needs draws to choose, and at least as many screened as weighed
    const unscreened = distill(["recover", ...tiny, "--gate-screen", "3"]);
    expect(unscreened.status).not.toBe(0);
    expect(unscreened.stderr).toMatch(/--gate-screen 3 .*--gate-draws 1 weighs none: add --gate-draws 2 or more/);
    const few = distill(["recover", ...tiny, "--gate-screen", "2", "--gate-draws", "4"]);
    expect(few.status).not.toBe(0);
    expect(few.stderr).toMatch(/--gate-screen 2 screens fewer draws than the gate weighs besides \(b\)'s \(3\)/);
    const lone = distill(["recover", ...tiny, "--screen-epochs", "3"]);
    expect(lone.status).not.toBe(0);
    expect(lone.stderr).toMatch(
      /--screen-epochs sets the short students of --gate-screen and --select factorial: add one/,
    );
    const noStart = distill(["recover", ...tiny, "--r-compete", "1", "--init", "noise"]);
    expect(noStart.status).not.toBe(0);
    expect(noStart.stderr).toMatch(/--r-compete .*--init noise has none: use --init real or drop --r-compete/);
  });

  it("students are as wide as a teacher of their family unless --student-width says otherwise", () => {
    const dir = join(root, "width");
    const args = tiny.map((a) => (a === out ? dir : a));
    args.splice(args.indexOf("--student-width"), 2);
    args[args.indexOf("--teacher-width") + 1] = "12";
    const studentWidth = () =>
      JSON.parse(readFileSync(join(dir, "stages.json"), "utf8")).stages.evaluate.config.students[0].width;
    const quick = ["--no-recover-gate", "--no-baselines"];
    const r = distill(["run", ...args, ...quick]);
    expect(r.status, r.stderr).toBe(0);
    expect(studentWidth()).toBe(12);
    const asked = distill(["evaluate", ...args, ...quick, "--student-width", "8"]);
    expect(asked.status, asked.stderr).toBe(0);
    expect(studentWidth()).toBe(8);
  });

  it("a stage command given --teacher imports it first, so recover runs on a fresh folder", () => {
    const fresh = join(root, "fresh");
    const args = tiny.map((a) => (a === out ? fresh : a));
    const r = distill(["recover", ...args, "--teacher", join(out, "teacher.onnx"), "--no-recover-gate"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(fresh, "teacher.onnx"))).toEqual(readFileSync(join(out, "teacher.onnx")));
    expect(existsSync(join(fresh, "images.npy"))).toBe(true);
    expect(JSON.parse(readFileSync(join(fresh, "stages.json"), "utf8")).stages).toHaveProperty("squeeze");
  });

  it("--r-compete recovers against the gate's student of the starting images, trained once", () => {
    const competed = join(root, "competed");
    const args = tiny.map((a) => (a === out ? competed : a));
    const r = distill(["recover", ...args, "--teacher", join(out, "teacher.onnx"), "--r-compete", "2"]);
    expect(r.status, r.stderr).toBe(0);
    const rec = JSON.parse(readFileSync(join(competed, "recover.json"), "utf8"));
    // the competitor is the gate's student of the start: no fourth student was trained
    expect(readdirSync(join(competed, "students")).filter((f) => f.endsWith(".onnx"))).toHaveLength(3);
    for (const b of rec.batches) expect(b.last.compete).toBeGreaterThan(0);
    const config = JSON.parse(readFileSync(join(competed, "stages.json"), "utf8")).stages.recover.config;
    expect(config.compete).toEqual({ weight: 2, temperature: 4 });
    expect(config.competitor.student).toEqual(config.gate.student);
  });

  it("--student-seed redraws evaluate's and the baselines' students on the run's own images, crops and labels", () => {
    const dir = join(root, "student-seed");
    const args = [...tiny.map((a) => (a === out ? dir : a)), "--teacher", join(out, "teacher.onnx")];
    const first = distill(["run", ...args]);
    expect(first.status, first.stderr).toBe(0);
    const seeded = parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))).students["convnet-2"];
    const mtime = (f: string) => statSync(join(dir, f)).mtimeMs;
    const now = () => ({
      images: mtime("images.npy"),
      labels: mtime("labels.dlt"),
      recover: mtime("recover.json"),
      randomLabels: mtime("baselines/labels-random.dlt"),
    });
    const before = now();
    // evaluate alone under a crop schedule its labels were not made for: refused before any work
    const turned = distill(["evaluate", ...args, "--rotate", "20"]);
    expect(turned.status).not.toBe(0);
    expect(turned.stderr).toMatch(
      /labels\.dlt was made with other relabel flags than these .*run `distill relabel` with the same flags first/,
    );
    expect(now()).toEqual(before);
    const gate = JSON.parse(readFileSync(join(dir, "recover.json"), "utf8")).gate;
    const stages = () => JSON.parse(readFileSync(join(dir, "stages.json"), "utf8")).stages;
    expect(stages().evaluate.config.students[0].seed).toBe(1); // --seed

    const redrawn = distill(["run", ...args.filter((a) => a !== "--quiet"), "--student-seed", "7"]);
    expect(redrawn.status, redrawn.stderr).toBe(0);
    // recover (its gate and probe students keep --seed), relabel and (b)'s relabelling are not redone
    expect(now()).toEqual(before);
    expect(redrawn.stderr).toContain("relabel-b: up to date (baselines/labels-random.dlt)");
    expect(JSON.parse(readFileSync(join(dir, "recover.json"), "utf8")).gate.students).toEqual(gate.students);
    // ours and (b) are trained afresh (the gate's students were drawn with --seed), (a) too
    expect(redrawn.stderr).not.toMatch(/the recover gate's student/);
    expect(redrawn.stderr).toMatch(/convnet-2 ours/);
    expect(stages().evaluate.config.students[0].seed).toBe(7);
    expect(stages().baselines.config.students[0].seed).toBe(7);
    expect(stages().recover.config.gate.student.student.seed).toBe(1);
    const report = () => parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")));
    expect(report().student_seed).toBe(7);
    expect(report().students["convnet-2"].draws).toBeUndefined();

    // --student-inits 2 (student seed = --seed): draw 1 is the run's own student, scored from the
    // gate's cache for ours and (b); draw 2 (seed 1001) is trained; the columns are their means
    const twice = distill(["run", ...args.filter((a) => a !== "--quiet"), "--student-inits", "2"]);
    expect(twice.status, twice.stderr).toBe(0);
    expect(twice.stderr.match(/draw 1\/2: the recover gate's student/g)).toHaveLength(2);
    expect(twice.stderr).toMatch(/convnet-2 ours draw 2\/2 .*val top-1/);
    expect(twice.stderr).toMatch(/convnet-2 \(b\) draw 2\/2 .*val top-1/);
    expect(now()).toEqual(before);
    const s = report().students["convnet-2"];
    const d = s.draws!;
    expect(d.seeds).toEqual([1, 1001]);
    expect([d.distilled[0], d.random_hard![0], d.random_soft![0]]).toEqual([
      seeded.distilled,
      seeded.random_hard,
      seeded.random_soft,
    ]);
    for (const [col, all] of [
      [s.distilled, d.distilled],
      [s.random_hard!, d.random_hard!],
      [s.random_soft!, d.random_soft!],
    ] as const) {
      expect(all).toHaveLength(2);
      expect(col).toBeCloseTo((all[0] + all[1]) / 2, 12);
    }
    expect(stages().evaluate.config.inits).toBe(2);
    expect(stages().baselines.config.inits).toBe(2);
    expect(readFileSync(join(dir, "report.md"), "utf8")).toMatch(/ahead on \d\/2 draws/);

    // --student-lr-stretch (EDC's smoothed cosine): absent from every config until given, so keys
    // stay; evaluate alone retrains the students under it and leaves images and labels alone
    expect(stages().evaluate.config.students[0]).not.toHaveProperty("lrStretch");
    const low = distill(["evaluate", ...args, "--student-lr-stretch", "0.5"]);
    expect(low.status).not.toBe(0);
    expect(low.stderr).toContain("--student-lr-stretch must be a number ≥ 1, got '0.5'");
    const stretched = distill(["evaluate", ...args, "--student-lr-stretch", "2"]);
    expect(stretched.status, stretched.stderr).toBe(0);
    expect(now()).toEqual(before);
    expect(stages().evaluate.config.students[0].lrStretch).toBe(2);
    expect(stages().baselines.config.students[0].lrStretch).toBe(2);
    expect(report().student_lr_stretch).toBe(2);
    expect(readFileSync(join(dir, "report.md"), "utf8")).toContain(
      "cosine learning rate stretched 2× (ending at 50.00 %",
    );

    // --student-hard-phase (HALD): absent until given; it retrains the soft-labelled students
    // only, since (a)'s, on hard labels throughout, are the same without it (found in the cache)
    expect(stages().evaluate.config.students[0]).not.toHaveProperty("hardPhase");
    const whole = distill(["evaluate", ...args, "--student-hard-phase", "1"]);
    expect(whole.status).not.toBe(0);
    expect(whole.stderr).toContain("--student-hard-phase must be a number in [0, 1), got '1'");
    const hald = distill(["evaluate", ...args.filter((a) => a !== "--quiet"), "--student-hard-phase", "0.5"]);
    expect(hald.status, hald.stderr).toBe(0);
    expect(now()).toEqual(before);
    expect(hald.stderr).toMatch(/convnet-2 \(a\): trained before/);
    expect(hald.stderr).toMatch(/convnet-2 \(b\) .*val top-1/);
    expect(stages().evaluate.config.students[0].hardPhase).toEqual({ fraction: 0.5, smoothing: 0.8 });
    expect(report().student_hard_phase).toEqual({ fraction: 0.5, smoothing: 0.8 });
    expect(report().students["convnet-2"].random_hard).toBe(seeded.random_hard);
    expect(readFileSync(join(dir, "report.md"), "utf8")).toContain(
      "the middle 50.00 % of a soft-labelled student's epochs on hard labels smoothed by 0.8 (HALD)",
    );
  });

  it("--gate-draws weighs further random subsets beside (b)'s, at a Bonferroni bar, and keeps one only on its score", () => {
    const drawn = join(root, "drawn");
    const args = tiny.map((a) => (a === out ? drawn : a));
    const r = distill(["recover", ...args, "--teacher", join(out, "teacher.onnx"), "--gate-draws", "3"]);
    expect(r.status, r.stderr).toBe(0);
    // --quiet drops the progress bars, not the gate's decision
    expect(r.stderr).toMatch(/recover gate: students on \d+ training images/);
    expect(r.stderr).not.toMatch(/relabel-gate/);
    const gate = JSON.parse(readFileSync(join(drawn, "recover.json"), "utf8")).gate;
    expect(Object.keys(gate.scores)).toEqual(["random", "draw-2", "draw-3", "start", "recovered"]);
    // five different image sets, five students
    expect(new Set(Object.values(gate.students)).size).toBe(5);
    const config = JSON.parse(readFileSync(join(drawn, "stages.json"), "utf8")).stages.recover.config;
    expect(config.gate.scoring.z).toBeCloseTo(2.128045, 5); // one-sided 1 − 0.05/3
    const kept = Object.keys(gate.scores).indexOf(gate.kept);
    if (kept > 0) expect(gate.z[gate.kept]).toBeGreaterThan(config.gate.scoring.z);
    // another recover step: the four unchanged sets' students are found by what their labels come
    // from, so only the new recovered images are relabelled and trained on
    const loud = args.filter((a) => a !== "--quiet");
    const again = distill(["recover", ...loud, "--gate-draws", "3", "--recover-lr", "0.02", "--gate-keep", "best"]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr.match(/^relabel-gate .*\| (\d+)\/\1 /gm)).toHaveLength(1); // each bar ends on a full count
    const regated = JSON.parse(readFileSync(join(drawn, "recover.json"), "utf8")).gate;
    for (const name of ["random", "draw-2", "draw-3", "start"])
      expect(regated.students[name]).toBe(gate.students[name]);
    expect(regated.students.recovered).not.toBe(gate.students.recovered);
    // --gate-keep best: the highest score is kept, the first of equals
    const scores = Object.values(regated.scores) as number[];
    expect(regated.kept).toBe(Object.keys(regated.scores)[scores.indexOf(Math.max(...scores))]);
    expect(JSON.parse(readFileSync(join(drawn, "stages.json"), "utf8")).stages.recover.config.gate.scoring.z).toBe(0);
  });

  it("--image-bits 4 keeps twice the images per class at 16 grey levels in the same bytes; every student sees the same crops", () => {
    const dir = join(root, "four-bit");
    const args = [
      ...without(tiny, "--image-bits").map((a) => (a === out ? dir : a)),
      "--teacher",
      join(out, "teacher.onnx"),
      "--image-bits",
      "4",
    ];
    const r = distill(["run", ...args, "--no-recover-gate"]);
    expect(r.status, r.stderr).toBe(0);
    const npy = readNpy(join(dir, "images.npy"));
    expect(npy.shape).toEqual([16, 1, 16, 16]); // 4 classes × 2 × --ipc 2
    for (const v of npy.data) expect(Math.abs(v * 15 - Math.round(v * 15))).toBeLessThan(1e-5);
    // the packed file holds exactly those images, in the bytes of (b)'s 8 images at 8 bits (+ its header)
    const packed = unpackImages(new Uint8Array(readFileSync(join(dir, "images.dpk"))));
    expect(packed.bits).toBe(4);
    expect(Array.from(packed.pixels)).toEqual(Array.from(npy.data));
    expect(statSync(join(dir, "images.dpk")).size).toBe(21 + 8 * 256);
    // a training client given only the packed file crops the same images
    expect(Array.from(loadLocalImages(join(dir, "images.dpk")).pixels)).toEqual(Array.from(npy.data));
    // ours: 16 images × 4 epochs; (a) and (b): 8 images × 8 epochs (--epochs): as many crops and labels
    const report = parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")));
    expect([report.images, report.image_bits, report.student_epochs, report.random_epochs]).toEqual([16, 4, 4, 8]);
    const ours = decodeLabelTable(new Uint8Array(readFileSync(join(dir, "labels.dlt")))).header;
    const b = decodeLabelTable(new Uint8Array(readFileSync(join(dir, "baselines", "labels-random.dlt")))).header;
    expect([ours.images, ours.epochs, b.images, b.epochs]).toEqual([16, 4, 8, 8]);
    expect(parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")))).toMatchObject({
      ipc: 4,
      images: 16,
    });
    expect(readFileSync(join(dir, "report.md"), "utf8")).toMatch(
      /4 classes × 4 at 4 bits per pixel: the bytes of 2 8-bit images per class.*\n[\s\S]*ours 4 epochs, \(a\) and \(b\) 8/,
    );
    // the gate weighs (b)'s 8-bit subset against the 4-bit start and recovered images; what it keeps is stored at its own depth
    const gated = distill(["recover", ...args, "--select-from", "3"]);
    expect(gated.status, gated.stderr).toBe(0);
    const gate = JSON.parse(readFileSync(join(dir, "recover.json"), "utf8")).gate;
    expect(Object.keys(gate.scores)).toEqual(["random", "start", "recovered"]);
    const kept = unpackImages(new Uint8Array(readFileSync(join(dir, "images.dpk"))));
    expect([kept.bits, kept.shape[0]]).toEqual(gate.kept === "random" ? [8, 8] : [4, 16]);
    // auto, the default: 4 bits where the teacher keeps its top-1 on quantised held-out training images (within half a point)
    const autoDir = join(root, "auto-bits");
    const auto = distill([
      "recover",
      ...without(args, "--image-bits").map((a) => (a === dir ? autoDir : a)),
      "--no-recover-gate",
    ]);
    expect(auto.status, auto.stderr).toBe(0);
    const choice = JSON.parse(readFileSync(join(autoDir, "recover.json"), "utf8")).image_bits_auto;
    expect(auto.stderr).toContain(`image bits: the teacher on ${choice.images} held-out training images: 8 bits`);
    expect(choice.bits).toBe(choice.accuracy[4] >= choice.accuracy[8] - 0.005 ? 4 : 8);
    expect(readNpy(join(autoDir, "images.npy")).shape[0]).toBe(choice.bits === 4 ? 16 : 8);
    expect(existsSync(join(autoDir, "images.dpk"))).toBe(choice.bits === 4);
    // measured once per run folder: a rerun (or another cluster shard) reads the choice back
    const again = distill([
      "recover",
      ...without(args, "--image-bits").map((a) => (a === dir ? autoDir : a)),
      "--no-recover-gate",
    ]);
    expect(again.stderr).toContain(`${choice.bits} bits per pixel (measured before: image-bits.json)`);
    expect(again.stderr).toContain("recover: up to date");
    expect(JSON.parse(readFileSync(join(autoDir, "image-bits.json"), "utf8")).choice).toEqual(choice);
    // …and 8 bits, without asking the teacher, where a start of 2 × IPC images per class would take
    // more than half of the smallest class (24 training images here), which the gate scores on
    const large = distill([
      "recover",
      ...without(args, "--image-bits").map((a) => (a === dir ? join(root, "auto-large") : a)),
      "--ipc",
      "7",
      "--no-recover-gate",
    ]);
    expect(large.status, large.stderr).toBe(0);
    expect(large.stderr).toContain(
      "image bits: 8 per pixel (--image-bits auto): the smallest class has 24 training images, and a start of fewer bits would take more than half of them (14 images per class at 4 bits)",
    );
    expect(large.stderr).not.toContain("held-out training images");
    expect(readNpy(join(root, "auto-large", "images.npy")).shape[0]).toBe(28);
    // a depth that does not divide a byte, and a selection of 8-bit draws, are refused
    const three = distill(["run", ...args, "--image-bits", "3"]);
    expect(three.status).not.toBe(0);
    expect(three.stderr).toMatch(/--image-bits must be one of 1, 2, 4, 8 .*or auto, got '3'/);
    const factorial = distill(["recover", ...args, "--select", "factorial"]);
    expect(factorial.status).not.toBe(0);
    expect(factorial.stderr).toMatch(/--select factorial composes random draws of --ipc 8-bit images/);
    // a start or a baseline the smallest class cannot give is refused before any stage writes
    const smallDir = join(root, "small-class");
    const small = (flags: string[]) =>
      distill(["run", ...without(args, "--image-bits").map((a) => (a === dir ? smallDir : a)), ...flags]);
    const start = small(["--ipc", "13", "--image-bits", "4"]);
    expect(start.status).not.toBe(0);
    expect(start.stderr).toContain(
      "the smallest class has 24 training images, and the run draws 26 real images per class (--ipc 13 × 8 / --image-bits 4): lower --ipc or raise --image-bits",
    );
    const baselines = small(["--ipc", "25", "--image-bits", "8", "--init", "noise"]);
    expect(baselines.stderr).toContain(
      "the smallest class has 24 training images, and the run draws 25 real images per class (--ipc 25): lower --ipc",
    );
    expect(existsSync(join(smallDir, "stages.json"))).toBe(false);
    // recover's turned crops on images above 64 px: refused before squeeze, not after it
    const turned = small(["--resolution", "72", "--recover-rotate", "10"]);
    expect(turned.status).not.toBe(0);
    expect(turned.stderr).toContain(
      "recover's turned crops (--recover-rotate 10) take a (72²)² sampling matrix per step, and they run on images up to 64 px: drop --recover-rotate",
    );
    expect(turned.stderr).not.toMatch(/squeeze/);
    expect(existsSync(smallDir)).toBe(false);
  });

  it("--gate-screen ranks more draws by short students on images of their own; the gate weighs the best", () => {
    const screened = join(root, "screened");
    const args = tiny.map((a) => (a === out ? screened : a)).filter((a) => a !== "--quiet");
    const teacher = join(out, "teacher.onnx");
    const flags = ["--gate-draws", "2", "--gate-screen", "3", "--screen-epochs", "3"];
    const r = distill(["recover", ...args, "--teacher", teacher, ...flags]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /recover gate: 3-epoch students on \d+ training images of their own: random .*; the gate weighs draw-\d/,
    );
    // four short students (one per draw, (b)'s included), then the gate's three full ones
    expect(r.stderr.match(/^convnet-2 screen-\S+ .*\| (\d+)\/\1 /gm)).toHaveLength(4);
    const gate = JSON.parse(readFileSync(join(screened, "recover.json"), "utf8")).gate;
    expect(gate.screen.epochs).toBe(3);
    const screen: Record<string, number> = gate.screen.scores;
    expect(Object.keys(screen)).toEqual(["random", "draw-2", "draw-3", "draw-4"]);
    const best = ["draw-2", "draw-3", "draw-4"].reduce((a, b) => (screen[b] > screen[a] ? b : a));
    expect(Object.keys(gate.scores)).toEqual(["random", best, "start", "recovered"]);
    const config = JSON.parse(readFileSync(join(screened, "stages.json"), "utf8")).stages.recover.config;
    expect(config.gate.screen).toEqual({ draws: 3, epochs: 3, images: 10_000 });
    expect(config.gate.scoring.z).toBeCloseTo(1.959964, 5); // one-sided 1 − 0.05/2: two draws weighed
    // the report says where the gate's draw came from
    const rest = distill(["run", ...args, ...flags, "--no-baselines"]);
    expect(rest.status, rest.stderr).toBe(0);
    expect(rest.stderr).toMatch(/recover: up to date/);
    expect(parseReport(JSON.parse(readFileSync(join(screened, "report.json"), "utf8"))).gate!.screen).toEqual(
      gate.screen,
    );
    expect(readFileSync(join(screened, "report.md"), "utf8")).toMatch(
      /random draws were the best of 3 screened by 3-epoch students on training images of their own \(`--gate-screen`\): random \d/,
    );
    // a cluster run's gate tasks are fixed at launch: its shard commands refuse the screen
    const shard = shardTask("gate", [...args, ...flags]);
    expect(shard.status).not.toBe(0);
    expect(shard.stderr).toMatch(/--gate-screen chooses the gate's draws at run time/);
  });

  it("--select factorial takes each class's images from one of three draws, by short students on an orthogonal array", () => {
    const designed = join(root, "factorial");
    const args = without(tiny, "--image-bits")
      .map((a) => (a === out ? designed : a))
      .filter((a) => a !== "--quiet");
    const flags = ["--select", "factorial", "--screen-epochs", "3"];
    const r = distill(["recover", ...args, "--teacher", join(out, "teacher.onnx"), ...flags]);
    expect(r.status, r.stderr).toBe(0);
    // its draws are 8-bit images: auto (the default) is 8 here, and says why
    expect(r.stderr).toContain("image bits: 8 per pixel (--image-bits auto): --select factorial composes");
    // four classes: OA(9, 4, 3, 2), a short student per run, scored on images of their own
    expect(r.stderr.match(/^recover: factorial run \d\/9 \(3 epochs\): \d+\.\d\d %$/gm)).toHaveLength(9);
    expect(r.stderr).toMatch(/each class's images from draw [1-3] [1-3] [1-3] [1-3] \(1 = \(b\)'s\)/);
    const { factorial, gate } = JSON.parse(readFileSync(join(designed, "recover.json"), "utf8"));
    expect(factorial.epochs).toBe(3);
    expect(factorial.design).toHaveLength(9);
    expect(factorial.design[0]).toEqual([0, 0, 0, 0]); // (b)'s own set is a run
    // each class keeps the level whose runs scored best on average
    factorial.levels.forEach((level: number, c: number) => {
      const at = (l: number) => mean(factorial.scores.filter((_: number, i: number) => factorial.design[i][c] === l));
      expect(at(level)).toBe(Math.max(at(0), at(1), at(2)));
    });
    // the composite is the gate's start, weighed against (b)'s images as any selection is
    expect(Object.keys(gate.scores)).toEqual(["random", "start", "recovered"]);
    const config = JSON.parse(readFileSync(join(designed, "stages.json"), "utf8")).stages.recover.config;
    expect(config.select).toEqual(["factorial", 10_000]);
    expect(config.probe.epochs).toBe(3);
    // recover shards would each train the design again
    const shard = shardTask("recover", [...args, ...flags]);
    expect(shard.status).not.toBe(0);
    expect(shard.stderr).toMatch(
      /--select factorial trains its short students in one process before recover, .*: use `distill run`/,
    );
  });
});

describe("an imported teacher of other data", () => {
  it("is refused at import, naming its classes or input shape against the data's, leaving no run folder", () => {
    const teacher = join(out, "teacher.onnx");
    if (!existsSync(teacher)) expect(distill(["squeeze", ...tiny]).status).toBe(0);
    const folder = (name: string, classes: number, size: number) => {
      const dir = join(root, name);
      for (let c = 0; c < classes; c++) {
        mkdirSync(join(dir, `k${c}`), { recursive: true });
        for (let i = 0; i < 10; i++)
          writePng(join(dir, `k${c}`, `${i}.png`), {
            data: new Float32Array(size * size).fill(c / classes),
            channels: 1,
            height: size,
            width: size,
          });
      }
      return dir;
    };
    const imported = (dir: string) =>
      distill(
        ["run", ...without(tiny, "--data"), "--data", dir, "--teacher", teacher, "--ipc", "1"].map((a) =>
          a === out ? `${dir}-run` : a,
        ),
      );
    const fewer = imported(folder("three-classes", 3, 16));
    expect(fewer.status).not.toBe(0);
    expect(fewer.stderr).toContain(
      `--teacher ${teacher}: it outputs 4 classes, and the data has 3 (k0, k1, k2): give a teacher trained on this data, or leave out --teacher to squeeze one`,
    );
    const smaller = imported(folder("small-images", 4, 8));
    expect(smaller.status).not.toBe(0);
    expect(smaller.stderr).toContain(`--teacher ${teacher}: it takes 1 × 16 × 16 images, and the data's are 1 × 8 × 8`);
    // refused before anything was written: the run folder the command made is gone again
    for (const dir of ["three-classes", "small-images"]) expect(existsSync(join(root, `${dir}-run`))).toBe(false);
  });
});
