// scripts/images-worth.ts: (b) at several subset sizes, each student at the same crop budget. At
// the run's own size and budget its student is the run's (b) itself (same subset, labels and
// recipe), so it must score exactly what the baselines stage wrote; a distilled set is placed on
// the curve; the page, the data and the plot are written; bad input is refused by name.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { distill, ok, tinyOptions, tsx, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "images-worth");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const script = (args: string[]) => spawnSync(tsx, ["scripts/images-worth.ts", ...args], { encoding: "utf8" });

describe("images-worth", () => {
  it("reproduces (b) at the run's size and places the run's distilled set on the curve", () => {
    rmSync(root, { recursive: true, force: true });
    const data = join(root, "quadrants");
    const run = join(root, "run");
    writeQuadrants(data); // 4 classes × 24 images
    ok(distill(["run", ...tinyOptions(data, run, "tiny0", [])])); // IPC 4, 6 epochs (96 crops per student), gated
    const b = JSON.parse(readFileSync(join(run, "baselines", "results.json"), "utf8"))["convnet-2"].random_soft;

    // the run's flags without --epochs (set per size from --crops) and with the sweep's --out
    const flags = tinyOptions(data, join(root, "sweep"));
    flags.splice(flags.indexOf("--epochs"), 2);
    const results = join(root, "results");
    const common = [...flags, "--crops", "96", "--results", results, "--name", "worth"];

    const noReport = script([...common, "--ipcs", "4", "--place", join(root, "nowhere")]);
    expect(noReport.status).not.toBe(0);
    expect(noReport.stderr).toMatch(/--place .*nowhere: no report\.json; finish that run first/);
    const budget = script([...flags, "--crops", "100", "--ipcs", "4", "--place", run]);
    expect(budget.status).not.toBe(0);
    expect(budget.stderr).toMatch(/its students saw 96 crops, the curve's 100: give --crops 96/);
    const epochs = script([...common, "--epochs", "3"]);
    expect(epochs.status).not.toBe(0);
    expect(epochs.stderr).toMatch(/--epochs is set per size from --crops; drop --epochs/);

    const r = script([...common, "--ipcs", "all,1,4", "--place", run]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(join(results, "worth.json"), "utf8"));
    const all = out.curve[2].ipc; // the tiny set's training split, every image of a class
    expect(out.curve.map((c: { ipc: number }) => c.ipc)).toEqual([1, 4, all]);
    expect(all).toBeGreaterThan(4);
    expect(out.curve.map((c: { epochs: number }) => c.epochs)).toEqual([24, 6, Math.round(24 / all)]); // 96 crops
    expect(out.curve[1].accuracy).toBe(b);
    // the run's gate trained (b)'s student: its cached students came along and it was scored, not retrained
    expect(readdirSync(join(run, "students")).length).toBeGreaterThan(0);
    for (const f of readdirSync(join(run, "students")))
      expect(existsSync(join(root, "sweep", "ipc4", "students", f))).toBe(true);
    const [placed] = out.placed;
    expect(placed.ipc).toBe(4);
    expect(placed.b).toBe(b);
    // worth: a size on the measured range, or which side of it the set lies
    if (placed.worth === null) expect(["below", "above"]).toContain(placed.side);
    else expect(placed.worth).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(results, "worth.md"), "utf8")).toMatch(/\| 4 \| 6 \| 96 \| [\d.]+ \|/);
    expect(existsSync(join(results, "worth.png"))).toBe(true);

    // a second call trains nothing again (each size is a finished stage of its folder)
    const stored = join(root, "sweep", "ipc4", "random-soft.json");
    const before = statSync(stored).mtimeMs;
    const again = script([...common, "--ipcs", "4"]);
    expect(again.status, again.stderr).toBe(0);
    expect(statSync(stored).mtimeMs).toBe(before);
    expect(JSON.parse(readFileSync(join(results, "worth.json"), "utf8")).curve[0].accuracy).toBe(b);
  });
});
