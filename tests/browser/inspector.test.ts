// The inspector page end to end in a real headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core; never a downloaded browser): served by `serveInspector` (what
// `distill inspect --serve` runs) over a small run folder, the numbers it shows equal the
// CLI's --json output, and the crops of a clicked image for a chosen epoch equal the table's
// decoded records, with boxes from the crop schedule; on a run with turned crops (--rotate) the
// drawn box covers the points the turned sampling grid reads. Screenshot:
// test-output/browser/inspector.png.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchOrder, cropFor, cropResizeInto, inverseOrder } from "../../shared/crop-schedule/index.ts";
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
const turnedRun = join(out, "run-turned");
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

let server: InspectorServer;
let turnedServer: InspectorServer;
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
    page = await openPage(browser, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await turnedServer?.close();
  });

  /** A page on `url`, once the inspector says it is ready. */
  async function openPage(b: Browser, url: string): Promise<Page> {
    const p = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    p.on("pageerror", (e) => errors.push(e.message));
    await p.goto(url);
    await p.waitForFunction(
      () => {
        const t = document.querySelector("[data-testid=status]")?.textContent ?? "";
        return t === "ready" || t.startsWith("error");
      },
      null,
      { timeout: 30_000 },
    );
    expect(await p.textContent("[data-testid=status]"), errors.join("; ")).toBe("ready");
    return p;
  }

  /** Clicks `image` with `epoch` chosen and waits for its crops. */
  async function showCrops(p: Page, image: number, epoch: number): Promise<void> {
    await p.fill('[data-testid="epoch"]', String(epoch));
    await p.click(`[data-testid="image-${image}"]`);
    await p.dispatchEvent('[data-testid="epoch"]', "change");
    await p.waitForFunction(
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
  }

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
      await showCrops(page, image, epoch);
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
  it("turned crops (--rotate): the drawn box covers the points the turned sampling grid reads", async () => {
    // boxes stored in the table (as relabel stores them), whose records hold no turn: the page
    // takes the angle from the schedule
    const spec = { ...SMALL_RUN, rotate: 40, hasBox: true, size: 24 };
    makeRunFolder(turnedRun, spec);
    const schedule = JSON.parse(readFileSync(join(turnedRun, "manifest.json"), "utf8")).relabel.schedule;
    turnedServer = await serveInspector(turnedRun, { port: 0 });
    const p = await openPage(browser, turnedServer.url);
    let turned = 0;
    for (const [image, epoch] of [
      [4, 0],
      [9, 2],
      [13, 1],
    ]) {
      await showCrops(p, image, epoch);
      for (let c = 0; c < spec.cropsPerImage; c++) {
        const box = cropFor(schedule, epoch, image, c);
        expect(box.angle, "the schedule turns every crop").toBeDefined();
        if (Math.abs(box.angle!) > 1) turned++;
        // the sampling grid's points in image coordinates (pixel i spans [i, i + 1]): the crop of
        // two ramps, x + 0.5 and y + 0.5 (bilinear taps reproduce a linear image exactly, except
        // where clamped at the image's edge)
        const S = spec.size,
          n = box.w * box.h;
        const ramps = new Float32Array(2 * S * S).map((_, i) => (i < S * S ? i % S : Math.floor(i / S) - S) + 0.5);
        const grid = cropResizeInto(new Float64Array(2 * n), ramps, 2, S, S, box, box.h, box.w);
        // the same points mapped by the drawn rectangle's own transform, in the page
        const mapped = await p.evaluate(
          ([id, pts]) => {
            const rect = document.querySelector<SVGRectElement>(`[data-testid="${id}"]`)!;
            const m = rect.transform.baseVal.consolidate()?.matrix ?? new DOMMatrix();
            return pts.map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
          },
          [
            `crop-${c}-rect`,
            Array.from({ length: n }, (_, at) => {
              const o = Math.floor(at / box.w),
                q = at % box.w;
              return [box.x + ((box.flip ? box.w - 1 - q : q) + 0.5), box.y + o + 0.5];
            }),
          ] as const,
        );
        let compared = 0;
        for (let at = 0; at < n; at++) {
          const [x, y] = mapped[at];
          if (x <= 0.5 || y <= 0.5 || x >= S - 0.5 || y >= S - 0.5) continue; // clamped taps
          expect(x, `image ${image} epoch ${epoch} crop ${c} point ${at}`).toBeCloseTo(grid[at], 3);
          expect(y).toBeCloseTo(grid[n + at], 3);
          compared++;
        }
        expect(compared).toBeGreaterThan(n / 4);
        const text = await p.textContent(`[data-testid="crop-${c}-box"]`);
        if (box.angle) expect(text).toContain(`turned ${box.angle.toFixed(1)}°`);
      }
    }
    expect(turned).toBeGreaterThan(2);
    await p.screenshot({ path: join(out, "inspector-turned.png"), fullPage: true });
    await p.close();
  });
});
