// The inspector page end to end in a real headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core; never a downloaded browser): served by `serveInspector` (what
// `distill inspect --serve` runs) over a small run folder, the numbers it shows equal the
// CLI's --json output, and the crops of a clicked image for a chosen epoch equal the table's
// decoded records, with boxes from the crop schedule. Screenshot: test-output/browser/inspector.png.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchOrder, cropFor, inverseOrder } from "../../shared/crop-schedule/index.ts";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { serveInspector, type InspectorServer } from "../../wasm-tools/node/inspector-server.ts";
import type { InspectSummary } from "../../wasm-tools/src/summary.ts";
import { makeRunFolder, SMALL_RUN } from "../inspect/run-folder.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(
    `tests/browser: SKIPPED — ${CHROMIUM} is absent (install Debian's chromium: apt-get install chromium; CI's .ci/run does)`,
  );

const out = join(process.cwd(), "test-output", "browser");
const run = join(out, "run");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

let server: InspectorServer;
let browser: Browser;
let page: Page;
let cli: InspectSummary;
let table: Uint8Array;

const title = hasChromium
  ? "inspector page in headless Chromium"
  : `inspector page in headless Chromium — SKIPPED: ${CHROMIUM} is absent (apt-get install chromium)`;
describe.skipIf(!hasChromium)(title, () => {
  beforeAll(async () => {
    table = makeRunFolder(run, SMALL_RUN).table;
    const r = spawnSync(tsx, ["gpu-cluster/cli/distill.ts", "inspect", run, "--json"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    cli = JSON.parse(r.stdout) as InspectSummary;
    server = await serveInspector(run, { port: 0 });
    // playwright gives the browser a fresh temporary profile (its --user-data-dir)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(
      () => {
        const t = document.querySelector("[data-testid=status]")?.textContent ?? "";
        return t === "ready" || t.startsWith("error");
      },
      null,
      { timeout: 30_000 },
    );
    expect(await page.textContent("[data-testid=status]"), errors.join("; ")).toBe("ready");
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const value = async (testid: string) => page.getAttribute(`[data-testid="${testid}"]`, "data-value");
  const number = async (testid: string) => Number(await value(testid));

  it("shows the CLI's --json numbers", async () => {
    const h = cli.header;
    const expected: Record<string, number> = {
      "stat-bytes": cli.bytes,
      "stat-fp32-bytes": cli.fp32Bytes,
      "stat-classes": h.classes,
      "stat-images": h.images,
      "stat-ipc": cli.ipc!,
      "stat-epochs": h.epochCount,
      "stat-crops-per-image": h.cropsPerImage,
      "stat-k": h.k,
      "stat-record-size": h.recordSize,
      "stat-crops": cli.crops,
      "stat-agreement": cli.agreement,
      "stat-mean-entropy": cli.meanEntropy,
      "stat-mean-maxprob": cli.meanMaxProb,
      "stat-mean-topk-mass": cli.meanTopkMass,
    };
    for (const [testid, v] of Object.entries(expected)) expect(await number(testid), testid).toBe(v);
    expect(await value("stat-quant")).toBe(h.quant);
    // the shown text is the rounded value
    expect(await page.textContent('[data-testid="stat-agreement"]')).toBe(`${(cli.agreement * 100).toFixed(2)} %`);
    for (const [id, counts] of [
      ["entropy", cli.histograms.entropy],
      ["maxprob", cli.histograms.maxProb],
      ["topk-mass", cli.histograms.topkMass],
    ] as const) {
      expect(await page.locator(`[data-testid^="hist-${id}-"]`).count()).toBe(counts.length);
      for (let i = 0; i < counts.length; i++) expect(await number(`hist-${id}-${i}`), `${id} bin ${i}`).toBe(counts[i]);
    }
    for (let i = 0; i < cli.worstClasses.length; i++) {
      expect(await number(`worst-${i}-class`)).toBe(cli.worstClasses[i].cls);
      expect(await number(`worst-${i}-agreement`)).toBe(cli.worstClasses[i].agreement);
    }
    expect(await page.getAttribute('[data-testid="confusion"]', "data-classes")).toBe(String(h.classes));
    // the heat map's pixel (r, c) is the CLI's confusion cell, row-normalised on a sqrt scale
    const red = await page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="confusion"]')!;
      return Array.from(
        c
          .getContext("2d")!
          .getImageData(0, 0, c.width, c.height)
          .data.filter((_, i) => i % 4 === 0),
      );
    });
    const expectedRed = cli.confusion!.flatMap((row) =>
      row.map((v) => 255 - Math.round(Math.sqrt(v / (row.reduce((a, b) => a + b, 0) || 1)) * 208)),
    );
    expect(red).toEqual(expectedRed);
    // the grid: one row per class, ipc images each, every image decoded
    expect(await page.locator('[data-testid^="class-row-"]').count()).toBe(h.classes);
    expect(await page.locator('[data-testid="class-row-0"] img').count()).toBe(cli.ipc);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>(".row img")).every(
        (i) => i.complete && i.naturalWidth === 16,
      ),
    );
  });

  it("clicking an image shows its crops for the chosen epoch: the table's records, boxes from the schedule", async () => {
    const decoded = decodeLabelTable(table);
    const h = decoded.header;
    const manifest = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8"));
    for (const [image, epoch] of [
      [7, 1],
      [12, 2],
      [0, 0],
    ]) {
      await page.fill('[data-testid="epoch"]', String(epoch));
      await page.click(`[data-testid="image-${image}"]`);
      await page.dispatchEvent('[data-testid="epoch"]', "change");
      await page.waitForFunction(
        ([i, e]) => {
          const n = document.getElementById("detail-note")!;
          return (
            document.getElementById("detail")!.dataset.state === "ready" &&
            n.dataset.image === String(i) &&
            n.dataset.epoch === String(e)
          );
        },
        [image, epoch],
      );
      const slot = inverseOrder(batchOrder(h.seed, epoch, h.images))[image];
      for (let c = 0; c < h.cropsPerImage; c++) {
        const rec = decoded.record(epoch, slot, c);
        for (let j = 0; j < h.k; j++) {
          expect(await number(`crop-${c}-id-${j}`), `image ${image} epoch ${epoch} crop ${c} #${j}`).toBe(rec.ids[j]);
          expect(await number(`crop-${c}-p-${j}`)).toBe(rec.probs[j]);
        }
        const b = cropFor(manifest.relabel.schedule, epoch, image, c);
        expect(await value(`crop-${c}-box`)).toBe(`${b.x},${b.y},${b.w},${b.h},${b.flip ? 1 : 0}`);
        expect(await page.getAttribute(`[data-testid="crop-${c}-rect"]`, "width")).toBe(String(b.w));
      }
      expect(await page.locator('[data-testid^="crop-"][data-testid$="-rect"]').count()).toBe(h.cropsPerImage);
    }
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, "inspector.png"), fullPage: true });
    expect(existsSync(join(out, "inspector.png"))).toBe(true);
  });
});
