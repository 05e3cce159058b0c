// The paper's transformer architectures through the `distill` command: a BN-ViT-Tiny teacher
// (squeezed, exported, re-imported, recovered through its 37 token BatchNorms, relabelled) and a
// ViT-Tiny student, on a tiny image folder (4 classes of 16×16 quadrant images, 4-px patches:
// 16 tokens + the class token, full depth 12, width 16). ViT-Tiny as a teacher is refused at once.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseReport } from "../../gpu-cluster/cli/report.ts";
import { distill, writeQuadrants } from "../cluster/tiny-run.ts";

const root = join(process.cwd(), "test-output", "cli-architectures");
const data = join(root, "quadrants");
const out = join(root, "run");

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  writeQuadrants(data, 24, 7);
});

describe("distill with ViT architectures", () => {
  it("bn-vit-tiny teacher, vit-tiny student: every stage runs and the report has both", () => {
    const args = ["run", "--data", data, "--out", out, "--ipc", "2", "--seed", "1", "--threads", "1", "--quiet"];
    args.push("--teacher-arch", "bn-vit-tiny", "--teacher-width", "16", "--teacher-epochs", "2");
    args.push("--iterations", "5", "--recover-batch", "8", "--epochs", "3");
    args.push("--students", "vit-tiny", "--student-width", "16", "--student-batch", "4");
    const r = distill(args);
    expect(r.status, r.stderr).toBe(0);
    const report = parseReport(JSON.parse(readFileSync(join(out, "report.json"), "utf8")));
    expect(report.teacher.arch).toBe("bn-vit-tiny");
    const s = report.students["vit-tiny"];
    for (const v of [s.distilled, s.random_hard, s.random_soft]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(r.stdout).toMatch(/\| vit-tiny \|/);
  });

  it("refuses vit-tiny and convnet-in-3 as teachers before any work: no BatchNorm for recover", () => {
    const r = distill(["run", "--data", data, "--out", join(root, "refused"), "--teacher-arch", "vit-tiny"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/vit-tiny has no BatchNorm layer for recover to match: use bn-vit-tiny/);
    const inNorm = distill(["run", "--data", data, "--out", join(root, "refused"), "--teacher-arch", "convnet-in-3"]);
    expect(inNorm.status).not.toBe(0);
    expect(inNorm.stderr).toMatch(/convnet-in-3 has no BatchNorm layer for recover to match: use convnet-3/);
    expect(existsSync(join(root, "refused"))).toBe(false);
  });
});
