// The results table (README's MNIST one) tabulated from run folders with --report-only: mean ±
// std per column, ours − (b) per seed, the student epochs the reports record, and the plot.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { parseReport, writeReport, type Report } from "../../gpu-cluster/cli/report.ts";
import { reportFixture } from "../stages/report-fixture.ts";
import { distill, ok, tinyOptions, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "results-table");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

// A report of one run; only the figures the table reads differ between runs.
function report(ipc: number, seed: number, ours: number, b: number, studentEpochs?: number): Report {
  return reportFixture({
    ipc,
    seed,
    students: { "convnet-3": { distilled: ours, random_hard: 0.5, random_soft: b } },
    ...(studentEpochs === undefined ? {} : { student_epochs: studentEpochs }),
  });
}

// The table of these reports' runs (written under runs/<sub>), as results/<name>.*; `flags` add to the command.
function tableRun(reports: Report[], flags: string[] = [], name = "mnist", sub = "runs") {
  const runs = join(root, sub);
  for (const r of reports) {
    const dir = join(runs, `ipc${r.ipc}-seed${r.seed}`);
    mkdirSync(dir, { recursive: true });
    writeReport(dir, r);
  }
  const results = join(root, "results");
  const args = ["scripts/results-table.ts", "--report-only", "--ipc", "1,10", "--seeds", "0,1", "--name", name];
  return spawnSync(tsx, [...args, "--out", runs, "--results", results, ...flags], { encoding: "utf8" });
}

function tabulate(reports: Report[], flags: string[] = [], name = "mnist", sub = "runs") {
  const p = tableRun(reports, flags, name, sub);
  expect(p.status, p.stderr).toBe(0);
  const results = join(root, "results");
  return {
    md: readFileSync(join(results, `${name}.md`), "utf8"),
    json: JSON.parse(readFileSync(join(results, `${name}.json`), "utf8")),
    // a plot only when two or more IPCs finished
    png: existsSync(join(results, `${name}.png`)) ? readFileSync(join(results, `${name}.png`)) : undefined,
  };
}

beforeEach(() => rmSync(root, { recursive: true, force: true }));

describe("results table", () => {
  it("averages the seeds, counts the seeds where ours is ahead of (b), and states the student epochs", () => {
    const { md, json, png } = tabulate([
      report(1, 0, 0.99, 0.98, 60000),
      report(1, 1, 0.975, 0.98, 60000),
      report(10, 0, 0.995, 0.994, 6000),
      report(10, 1, 0.993, 0.992, 6000),
    ]);
    expect(md).toContain(
      "| 1 | convnet-3 | 98.25 ± 0.75 | 50.00 ± 0.00 | 98.00 ± 0.00 | +0.25 ± 0.75 pt (ahead in 1/2) | 0, 1 |",
    );
    expect(md).toContain(
      "| 10 | convnet-3 | 99.40 ± 0.10 | 50.00 ± 0.00 | 99.30 ± 0.10 | +0.10 ± 0.00 pt (ahead in 2/2) |",
    );
    expect(md).toContain("Students trained for 60000 / 6000 epochs (IPC 1 / 10).");
    expect(md).toMatch(/on \d+ × .+, Node v\d+/);
    expect(json.rows.map((r: { student_epochs: number[] }) => r.student_epochs)).toEqual([
      [60000, 60000],
      [6000, 6000],
    ]);
    expect([...png!.subarray(1, 4)].map((c) => String.fromCharCode(c)).join("")).toBe("PNG");
    expect(md).toContain("![accuracy vs IPC](mnist.png)");
  });

  it("with --student-inits reports, also counts the draws where ours led (b)", () => {
    const drawn = (seed: number, ours: number[], b: number[]): Report => {
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
      const r = report(10, seed, mean(ours), mean(b));
      const seeds = ours.map((_, i) => seed + 1000 * i);
      r.students["convnet-3"].draws = { seeds, distilled: ours, random_hard: ours.map(() => 0.5), random_soft: b };
      return r;
    };
    const { md } = tabulate([
      drawn(0, [0.993, 0.991, 0.992], [0.992, 0.992, 0.99]),
      drawn(1, [0.992, 0.99], [0.991, 0.993]),
    ]);
    // seed 0 ahead on its means, seed 1 behind; draws ahead: 2 of 3 on seed 0, 1 of 2 on seed 1
    expect(md).toMatch(/pt \(ahead in 1\/2; 3\/5 draws\) \| 0, 1 \|/);
  });

  it("names the set the gate kept beside each seed, and ours' bits per pixel below 8, where the report records them", () => {
    const gated = (r: Report, kept: string, bits?: number): Report => ({
      ...r,
      gate: { kept, scores: { random: 0.9, [kept]: 0.95 } },
      ...(bits && { image_bits: bits }),
    });
    const { md, json, png } = tabulate([
      gated(report(10, 0, 0.995, 0.994, 6000), "start", 4),
      gated(report(10, 1, 0.992, 0.992, 6000), "random"),
    ]);
    expect(md).toContain("| 0 (start, 4-bit), 1 (random) |");
    expect(json.rows[0].image_bits).toEqual([4, 8]);
    // one IPC: no curve to draw, and no link to one
    expect(png).toBeUndefined();
    expect(md).not.toContain(".png");
    expect(json.rows[0].gate_kept).toEqual(["start", "random"]);
  });

  it("names the students' width where the reports record it (it follows the teacher's, so the data decides it)", () => {
    const wide = (r: Report): Report => ({ ...r, student_widths: { "convnet-3": 64 } });
    const { md, json } = tabulate([wide(report(10, 0, 0.995, 0.994, 6000)), wide(report(10, 1, 0.992, 0.992, 6000))]);
    expect(md).toContain("| 10 | convnet-3, 64 wide | 99.35 ± 0.15 |");
    expect(json.rows[0].student_width).toEqual([64, 64]);
  });

  it("leaves the epochs out when a report predates the field, and tabulates the seeds that finished", () => {
    const { md } = tabulate([report(1, 0, 0.99, 0.98, 60000), report(10, 1, 0.993, 0.992)]);
    expect(md).not.toContain("Students trained");
    expect(md).toContain("| 1 | convnet-3 | 99.00 | 50.00 | 98.00 | +1.00 pt (ahead in 1/1) | 0 |");
    expect(md).toContain("| 10 | convnet-3 | 99.30 | 50.00 | 99.20 | +0.10 pt (ahead in 1/1) | 1 |");
  });

  it("--merge takes in an earlier table's rows with the command that made them, and refuses what would not compare", () => {
    const early = tabulate([report(1, 0, 0.99, 0.98, 60000), report(1, 1, 0.975, 0.98, 60000)], [], "ipc1", "early");
    const merged = join(root, "results", "ipc1.json");
    const { md, json, png } = tabulate(
      [report(10, 0, 0.995, 0.994, 6000), report(10, 1, 0.993, 0.992, 6000)],
      ["--merge", merged],
    );
    // the same cells as a table of all four runs at once
    expect(md).toContain(
      "| 1 | convnet-3 | 98.25 ± 0.75 | 50.00 ± 0.00 | 98.00 ± 0.00 | +0.25 ± 0.75 pt (ahead in 1/2) | 0, 1 |",
    );
    expect(md).toContain(
      "| 10 | convnet-3 | 99.40 ± 0.10 | 50.00 ± 0.00 | 99.30 ± 0.10 | +0.10 ± 0.00 pt (ahead in 2/2) |",
    );
    expect(md).toContain("Students trained for 60000 / 6000 epochs (IPC 1 / 10).");
    expect(md).toMatch(/from: IPC 1 by `.*--name ipc1.*` on .+; IPC 10 by `.*--merge .*ipc1\.json.*` on /);
    expect(json.rows.map((r: { ipc: number }) => r.ipc)).toEqual([1, 10]);
    expect(json.rows[0].source).toEqual(early.json.rows[0].source);
    expect([json.dataset, json.teacher_arch, json.teacher_accuracy]).toEqual(["mnist", "convnet-3", 0.9952]);
    expect(png).toBeDefined();

    // an IPC both in the runs and in the merged table
    const twice = tableRun([report(1, 0, 0.99, 0.98)], ["--merge", merged], "twice", "twice");
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toMatch(/IPC 1 \(convnet-3\) is already in this table; drop that IPC/);
    // another teacher
    const other = { ...report(10, 0, 0.995, 0.994), teacher_accuracy: 0.9215 };
    const teacher = tableRun([other], ["--merge", merged], "other", "other");
    expect(teacher.stderr).toMatch(
      /its teacher_accuracy is 0.9952, this table's 0.9215; merge only tables of the same/,
    );
    // not a table's JSON: refused before anything runs (no --report-only: it would squeeze a teacher first)
    const bad = join(root, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...early.json, rows: [{ ...early.json.rows[0], distilled: [0.9] }] }));
    const p = spawnSync(tsx, ["scripts/results-table.ts", "--merge", bad, "--out", join(root, "none")], {
      encoding: "utf8",
    });
    expect(p.stderr).toMatch(/not a results table's JSON \(rows\.0: distilled has 1 entries for 2 seeds\)/);
    expect(existsSync(join(root, "none"))).toBe(false);
    writeFileSync(bad, "{ not json");
    const broken = spawnSync(tsx, ["scripts/results-table.ts", "--merge", bad, "--out", join(root, "none")], {
      encoding: "utf8",
    });
    expect(broken.stderr).toMatch(
      /--merge .*bad\.json: not JSON \(.*\): give a file written by scripts\/results-table\.ts/,
    );
    expect(existsSync(join(root, "none"))).toBe(false);
    // an IPC it would run as well as merge
    const rerun = spawnSync(
      tsx,
      ["scripts/results-table.ts", "--ipc", "1", "--merge", merged, "--out", join(root, "none")],
      {
        encoding: "utf8",
      },
    );
    expect(rerun.stderr).toMatch(/IPC 1 \(.*ipc1\.json\) would also be run here; leave those IPCs out of --ipc/);
    expect(existsSync(join(root, "none"))).toBe(false);
  });

  it("--merge FILE:IPC takes only some IPCs of a merged table: an IPC rerun here replaces its stored row", () => {
    tabulate([report(1, 0, 0.99, 0.98, 60000), report(10, 0, 0.991, 0.99, 6000)], [], "both", "both");
    const stored = join(root, "results", "both.json");
    const { md, json } = tabulate([report(10, 0, 0.995, 0.994, 6000)], ["--merge", `${stored}:1`]);
    expect(json.rows.map((r: { ipc: number }) => r.ipc)).toEqual([1, 10]);
    expect(md).toContain("| 1 | convnet-3 | 99.00 | 50.00 | 98.00 | +1.00 pt (ahead in 1/1) | 0 |");
    expect(md).toContain("| 10 | convnet-3 | 99.50 | 50.00 | 99.40 | +0.10 pt (ahead in 1/1) | 0 |");
    // without it, the stored IPC 10 row clashes with this one
    const clash = tableRun([report(10, 0, 0.995, 0.994, 6000)], ["--merge", stored], "clash", "clash");
    expect(clash.stderr).toMatch(/IPC 10 \(convnet-3\) is already in this table/);
  });

  it("--merge reads tables written before rows recorded epochs, the gate, the dataset and the teacher", () => {
    const early = tabulate([report(1, 0, 0.99, 0.98, 60000)], [], "ipc1", "early").json;
    const legacy = join(root, "legacy.json");
    const { dataset, teacher_arch, ...top } = early;
    expect([dataset, teacher_arch]).toEqual(["mnist", "convnet-3"]);
    const rows = early.rows.map(({ student_epochs, gate_kept, source, ...r }: Record<string, unknown>) => r);
    writeFileSync(legacy, JSON.stringify({ ...top, rows }));
    const { md } = tabulate([report(10, 0, 0.995, 0.994, 6000)], ["--merge", legacy]);
    expect(md).toContain("| 1 | convnet-3 | 99.00 | 50.00 | 98.00 | +1.00 pt (ahead in 1/1) | 0 |");
    expect(md).not.toContain("Students trained"); // the legacy row does not say
    // alone, nothing says which dataset and teacher the table is of
    const alone = spawnSync(
      tsx,
      ["scripts/results-table.ts", "--report-only", "--merge", legacy, "--out", join(root, "none")],
      {
        encoding: "utf8",
      },
    );
    expect(alone.stderr).toMatch(/predate the dataset and teacher fields .*: tabulate at least one run with them/);
  });

  it("runs --jobs runs at a time, each as it would run alone, each with its log and its decisions named", () => {
    const data = join(root, "quadrants");
    writeQuadrants(data);
    // tinyOptions' flags with the run's own (data, folder, IPC, seed) left to the table
    const flags = tinyOptions(data, "unused").slice(10);
    ok(distill(["squeeze", "--data", data, "--out", join(root, "teacher"), ...flags]));
    const teacher = join(root, "teacher", "teacher.onnx");
    const table = ["scripts/results-table.ts", "--data", data, "--ipc", "2,4", "--seeds", "0", "--jobs", "2"];
    const runs = join(root, "runs");
    // with bars (no --quiet): they go to each run's log; the table shows the latest once a second (when a run lasts that long)
    const withBars = flags.filter((f) => f !== "--quiet");
    const p = spawnSync(
      tsx,
      [
        ...table,
        "--teacher",
        teacher,
        "--out",
        runs,
        "--results",
        join(root, "results"),
        "--heartbeat",
        "1",
        "--",
        ...withBars,
      ],
      { encoding: "utf8" },
    );
    expect(p.status, p.stderr).toBe(0);
    const bar = /\|[█░]+\|/;
    for (const run of ["ipc2-seed0", "ipc4-seed0"]) {
      expect(p.stderr).toMatch(new RegExp(`^\\[${run}\\] recover: \\d+ images`, "m"));
      const log = readFileSync(join(runs, `${run}.log`), "utf8");
      expect(log).toMatch(bar);
      expect(log).toMatch(/recover: \d+ images/);
    }
    const lines = p.stderr.split("\n");
    // every line of a run is named; the bars the table shows are the heartbeat's
    expect(lines.filter((l) => l.startsWith("[ipc")).length).toBeGreaterThan(4);
    expect(lines.filter((l) => bar.test(l)).every((l) => /^\[ipc[24]-seed0\] /.test(l))).toBe(true);
    const md = readFileSync(join(root, "results", "mnist.md"), "utf8");
    expect(md).toMatch(/\| 2 \| convnet-2, 8 wide \|/);
    expect(md).toMatch(/\| 4 \| convnet-2, 8 wide \|/);
    const alone = join(root, "alone");
    ok(distill(["run", "--data", data, "--teacher", teacher, "--ipc", "4", "--seed", "0", "--out", alone, ...flags]));
    const read = (dir: string) => parseReport(JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))).students;
    expect(read(join(root, "runs", "ipc4-seed0"))).toEqual(read(alone));
  });
});
