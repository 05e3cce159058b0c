// The paper's transformer architectures through the `distill` command: a BN-ViT-Tiny teacher
// (squeezed, exported, re-imported, recovered through its 37 token BatchNorms, relabelled) and a
// ViT-Tiny student, on a tiny image folder (4 classes of 16×16 quadrant images, 4-px patches:
// 16 tokens + the class token, full depth 12, width 16). ViT-Tiny as a teacher is refused at once.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { writePng } from "../../gpu-cluster/io/png.ts";
import { Random } from "../../gpu-cluster/data/index.ts";
import { parseReport } from "../../gpu-cluster/cli/report.ts";

const root = join(process.cwd(), "test-output", "cli-architectures");
const data = join(root, "quadrants");
const out = join(root, "run");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

function distill(args: string[]) {
  return spawnSync(tsx, ["gpu-cluster/cli/distill.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
}

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  const rng = new Random(7);
  for (let c = 0; c < 4; c++) {
    mkdirSync(join(data, `class${c}`), { recursive: true });
    for (let i = 0; i < 24; i++) {
      const px = new Float32Array(256);
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) {
          const inside = y < 8 === c < 2 && x < 8 === (c % 2 === 0);
          px[y * 16 + x] = Math.min(1, Math.max(0, (inside ? 0.8 : 0.1) + 0.1 * rng.normal()));
        }
      writePng(join(data, `class${c}`, `${i}.png`), { data: px, channels: 1, height: 16, width: 16 });
    }
  }
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

  it("refuses vit-tiny as a teacher before any work: no BatchNorm for recover", () => {
    const r = distill(["run", "--data", data, "--out", join(root, "refused"), "--teacher-arch", "vit-tiny"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/vit-tiny has no BatchNorm layer for recover to match: use bn-vit-tiny/);
  });
});
