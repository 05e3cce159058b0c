// The inspector page: loads a run folder (manifest.json, labels.dlt, images/*.png) and the
// label-stats module by relative URLs, streams the table through the module, and shows the
// statistics, the image grid (one row per class) and, for a clicked image, its crops of an
// epoch as boxes with their top-k soft labels. Bundled by wasm-tools/build.ts into one file.
// The run folder is `?run=URL` (default "../": the page sits in <run>/inspector/).
// Every number shown carries a data-testid and its exact value in data-value.
import { batchOrder, cropFor, inverseOrder, mixFor, type CropBox } from "../../shared/crop-schedule/index.ts";
import { FLAG_HAS_BOX, decodeRecords, recordOffset, type LabelTableHeader } from "../../shared/label-table/index.ts";
import { parseManifest, type RunManifest } from "../../shared/manifest.ts";
import { LabelStatsModule } from "../src/label-stats.ts";
import { formatBytes, summarize, type InspectSummary } from "../src/summary.ts";

/** Tables up to this size are kept in memory after the statistics pass; larger ones are read by Range requests. */
const KEEP_BYTES = 256 * 2 ** 20;
/** At most this many classes (rows) and images per row in the grid. */
const GRID_ROWS = 100,
  GRID_COLS = 50;
const BOX_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const SVG = "http://www.w3.org/2000/svg";

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** A shown number: text for people, data-value with the exact number for tests. */
function num(testid: string, value: number | string, text: string): HTMLElement {
  return el("span", { "data-testid": testid, "data-value": value }, text);
}

interface Run {
  base: URL;
  manifest: RunManifest;
  header: LabelTableHeader;
  summary: InspectSummary;
  /** Target × top-1 counts, row-major (the module keeps them up to 2048 classes; the JSON summary only up to 100). */
  confusion: Uint32Array | null;
  /** The whole table when it is small enough to keep. */
  table: Uint8Array | null;
  tableUrl: URL;
}

async function fetchOk(url: URL, init?: RequestInit): Promise<Response> {
  const r = await fetch(url, init);
  if (!r.ok)
    throw new Error(
      `${url.pathname}: HTTP ${r.status} ${r.statusText} (is this the inspector of a run folder? the page expects manifest.json, labels.dlt and images/ at ${new URL(".", url).href})`,
    );
  return r;
}

async function load(): Promise<Run> {
  const params = new URLSearchParams(location.search);
  const base = new URL(params.get("run") ?? "../", location.href);
  const wasmUrl = new URL("label-stats.wasm", document.baseURI);
  const [manifestJson, wasmBytes] = await Promise.all([
    fetchOk(new URL("manifest.json", base)).then((r) => r.json()),
    fetchOk(wasmUrl).then((r) => r.arrayBuffer()),
  ]);
  const manifest = parseManifest(manifestJson);
  const stats = await LabelStatsModule.load(wasmBytes);
  const tableUrl = new URL("labels.dlt", base);
  const res = await fetchOk(tableUrl);
  const length = Number(res.headers.get("content-length") ?? NaN);
  const stream = stats.stream({ ipc: manifest.ipc }, Number.isFinite(length) ? length : undefined);
  const keep: Uint8Array[] = [];
  let bytes = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    stream.push(value);
    bytes += value.length;
    if (bytes <= KEEP_BYTES) keep.push(value);
    status(`reading labels.dlt: ${formatBytes(bytes)}${Number.isFinite(length) ? ` of ${formatBytes(length)}` : ""}`);
  }
  const result = stream.finish();
  let table: Uint8Array | null = null;
  if (bytes <= KEEP_BYTES) {
    table = new Uint8Array(bytes);
    let o = 0;
    for (const c of keep) {
      table.set(c, o);
      o += c.length;
    }
  }
  const summary = summarize(result, {
    bytes,
    run: {
      runId: manifest.runId,
      dataset: manifest.dataset.name,
      ipc: manifest.ipc,
      resolution: manifest.resolution,
      teacher: manifest.teacher.arch,
    },
    classNames: manifest.dataset.classNames,
  });
  return { base, manifest, header: result.header, summary, confusion: result.confusion, table, tableUrl };
}

function status(text: string, error = false): void {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function className(run: Run, cls: number): string {
  const n = run.manifest.dataset.classNames?.[cls];
  return n && n !== String(cls) ? `${cls} ${n}` : `class ${cls}`;
}

function renderStats(run: Run): void {
  const s = run.summary,
    h = s.header;
  const rows: [string, HTMLElement][] = [
    ["file size", num("stat-bytes", s.bytes, `${formatBytes(s.bytes)} (${s.bytes} B)`)],
    [
      "as fp32 labels",
      num(
        "stat-fp32-bytes",
        s.fp32Bytes,
        `${formatBytes(s.fp32Bytes)} (${s.compression >= 1 ? `${s.compression.toFixed(1)}× the table` : `${(1 / s.compression).toFixed(1)}× less than the table`})`,
      ),
    ],
    ["classes", num("stat-classes", h.classes, String(h.classes))],
    ["images", num("stat-images", h.images, String(h.images))],
    ["images per class", num("stat-ipc", s.ipc ?? "", s.ipc === null ? "unknown" : String(s.ipc))],
    [
      "epochs",
      num(
        "stat-epochs",
        h.epochCount,
        h.epochCount === h.epochs
          ? String(h.epochs)
          : `${h.epochStart}..${h.epochStart + h.epochCount - 1} of ${h.epochs}`,
      ),
    ],
    ["crops per image", num("stat-crops-per-image", h.cropsPerImage, String(h.cropsPerImage))],
    ["top-k", num("stat-k", h.k, String(h.k))],
    ["quantisation", num("stat-quant", h.quant, h.quant)],
    ["record size", num("stat-record-size", h.recordSize, `${h.recordSize} B${h.hasBox ? " (with crop box)" : ""}`)],
    ["crops", num("stat-crops", s.crops, s.crops.toLocaleString("en"))],
    ["agreement", num("stat-agreement", s.agreement, s.ipc === null ? "n/a" : `${(s.agreement * 100).toFixed(2)} %`)],
    [
      "mean entropy",
      num("stat-mean-entropy", s.meanEntropy, `${s.meanEntropy.toFixed(4)} nats (max ${s.entropyMax.toFixed(3)})`),
    ],
    ["mean max-prob", num("stat-mean-maxprob", s.meanMaxProb, s.meanMaxProb.toFixed(4))],
    [`mean top-${h.k} mass`, num("stat-mean-topk-mass", s.meanTopkMass, s.meanTopkMass.toFixed(4))],
  ];
  const dl = $("stats");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(el("dt", {}, k));
    const dd = el("dd");
    dd.append(v);
    dl.append(dd);
  }
  $("run").textContent =
    `run ${run.manifest.runId} · ${run.manifest.dataset.name} · teacher ${run.manifest.teacher.arch}`;
}

function histogram(title: string, id: string, counts: number[], lo: number, hi: number): HTMLElement {
  const box = el("div", { class: "plot" });
  box.append(el("h3", {}, title));
  const max = Math.max(1, ...counts);
  const plot = svg("svg", {
    viewBox: `0 0 ${counts.length} 100`,
    preserveAspectRatio: "none",
    "data-testid": `hist-${id}`,
  });
  counts.forEach((c, i) => {
    const hgt = (c / max) * 100;
    const r = svg("rect", {
      x: i + 0.05,
      y: 100 - hgt,
      width: 0.9,
      height: hgt,
      "data-testid": `hist-${id}-${i}`,
      "data-value": c,
    });
    const t = svg("title");
    const step = (hi - lo) / counts.length;
    t.textContent = `[${(lo + i * step).toFixed(3)}, ${(lo + (i + 1) * step).toFixed(3)}): ${c} crops`;
    r.append(t);
    plot.append(r);
  });
  box.append(plot);
  const axis = el("div", { class: "axis" });
  axis.append(el("span", {}, lo.toFixed(2)), el("span", {}, hi.toFixed(2)));
  box.append(axis);
  return box;
}

function renderPlots(run: Run): void {
  const s = run.summary;
  $("plots").replaceChildren(
    histogram("entropy (nats)", "entropy", s.histograms.entropy, 0, s.entropyMax),
    histogram("max-probability", "maxprob", s.histograms.maxProb, 0, 1),
    histogram(`top-${s.header.k} mass`, "topk-mass", s.histograms.topkMass, 0, 1),
  );
  renderConfusion(run);
  const worst = $("worst");
  worst.replaceChildren();
  const head = el("tr");
  head.append(el("th", {}, "class"), el("th", {}, "agreement"), el("th", {}, "crops"));
  worst.append(head);
  s.worstClasses.forEach((c, i) => {
    const tr = el("tr");
    const a = el("td"),
      n = el("td");
    a.append(num(`worst-${i}-agreement`, c.agreement, `${(c.agreement * 100).toFixed(1)} %`));
    n.append(num(`worst-${i}-crops`, c.crops, String(c.crops)));
    tr.append(el("td", { "data-testid": `worst-${i}-class`, "data-value": c.cls }, className(run, c.cls)), a, n);
    worst.append(tr);
  });
}

/** Heat map of the confusion counts, each row normalised by its crops (sqrt scale so off-diagonal mass shows). */
function renderConfusion(run: Run): void {
  const canvas = $<HTMLCanvasElement>("confusion");
  const m = run.confusion;
  const C = run.header.classes;
  if (!m) {
    canvas.replaceWith(
      el(
        "p",
        { class: "muted", id: "confusion", "data-testid": "confusion" },
        `not kept above 2048 classes (${C} here)`,
      ),
    );
    return;
  }
  canvas.width = C;
  canvas.height = C;
  canvas.dataset.classes = String(C);
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(C, C);
  for (let r = 0; r < C; r++) {
    let total = 0;
    for (let c = 0; c < C; c++) total += m[r * C + c];
    for (let c = 0; c < C; c++) {
      const v = Math.sqrt(m[r * C + c] / (total || 1));
      const o = 4 * (r * C + c);
      img.data[o] = 255 - Math.round(v * 208);
      img.data[o + 1] = 255 - Math.round(v * 146);
      img.data[o + 2] = 255 - Math.round(v * 74);
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.title = "row: target class, column: top-1 class (row-normalised, sqrt scale)";
  canvas.onmousemove = (ev) => {
    const b = canvas.getBoundingClientRect();
    const c = Math.floor(((ev.clientX - b.left) / b.width) * C),
      r = Math.floor(((ev.clientY - b.top) / b.height) * C);
    if (r >= 0 && r < C && c >= 0 && c < C)
      canvas.title = `target ${className(run, r)} → top-1 ${className(run, c)}: ${m[r * C + c]} crops`;
  };
}

function imageUrl(run: Run, i: number): string {
  return new URL(`images/${String(i).padStart(6, "0")}.png`, run.base).href;
}

/** Rows (classes) from `first`, GRID_ROWS at most; `showClass` (from the worst-classes table) moves there. */
function renderGrid(run: Run, first: number, select: (i: number) => void): void {
  const m = run.manifest;
  const grid = $("grid");
  grid.replaceChildren();
  const rows = Math.min(m.dataset.classes - first, GRID_ROWS),
    cols = Math.min(m.ipc, GRID_COLS);
  const from = $<HTMLInputElement>("grid-from");
  from.max = String(Math.max(0, m.dataset.classes - 1));
  from.value = String(first);
  from.parentElement!.hidden = m.dataset.classes <= GRID_ROWS;
  $("grid-note").textContent =
    rows < m.dataset.classes || cols < m.ipc
      ? `(classes ${first}–${first + rows - 1} of ${m.dataset.classes}, ${cols} of ${m.ipc} images each)`
      : "";
  for (let c = first; c < first + rows; c++) {
    const row = el("div", { class: "row", "data-testid": `class-row-${c}`, id: `class-row-${c}` });
    row.append(el("span", { class: "cls", title: className(run, c) }, className(run, c)));
    for (let j = 0; j < cols; j++) {
      const i = c * m.ipc + j;
      const img = el("img", {
        src: imageUrl(run, i),
        alt: `image ${i} (${className(run, c)})`,
        title: `image ${i}`,
        loading: "lazy",
        "data-testid": `image-${i}`,
        "data-image": i,
      });
      img.onclick = () => select(i);
      row.append(img);
    }
    grid.append(row);
  }
}

/** The records of every crop of `image` in `epoch`: from the kept table or one Range read. */
async function cropRecords(run: Run, epoch: number, image: number) {
  const h = run.header;
  const slot = inverseOrder(batchOrder(h.seed, epoch, h.images))[image];
  const offset = recordOffset(h, epoch, slot, 0);
  const length = h.cropsPerImage * h.recordSize;
  let bytes: Uint8Array;
  if (run.table) bytes = run.table.subarray(offset, offset + length);
  else {
    const r = await fetchOk(run.tableUrl, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    const all = new Uint8Array(await r.arrayBuffer());
    bytes = r.status === 206 ? all : all.subarray(offset, offset + length);
  }
  return { slot, records: decodeRecords(h, bytes, h.cropsPerImage) };
}

async function renderDetail(run: Run, image: number, epoch: number): Promise<void> {
  const h = run.header,
    m = run.manifest;
  const schedule = m.relabel.schedule;
  const { slot, records } = await cropRecords(run, epoch, image);
  const target = Math.floor(image / m.ipc);
  const size = schedule.sourceSize;
  const view = svg("svg", { class: "view", viewBox: `0 0 ${size} ${size}`, "data-testid": "crop-view" });
  view.append(
    svg("image", {
      href: imageUrl(run, image),
      x: 0,
      y: 0,
      width: size,
      height: size,
      preserveAspectRatio: "none",
      style: "image-rendering: pixelated",
    }),
  );
  const cards = el("div", { class: "crops" });
  for (let c = 0; c < h.cropsPerImage; c++) {
    const drawn = cropFor(schedule, epoch, image, c);
    // a table's box records hold no turn: the schedule's draw gives it
    const box: CropBox = (h.flags & FLAG_HAS_BOX) !== 0 ? { ...records.boxes![c], angle: drawn.angle } : drawn;
    const colour = BOX_COLOURS[c % BOX_COLOURS.length];
    const rect = svg("rect", {
      x: box.x,
      y: box.y,
      width: box.w,
      height: box.h,
      stroke: colour,
      "data-testid": `crop-${c}-rect`,
      // the region the turned sampling grid reads (SVG's rotate turns the same way, y pointing down)
      ...(box.angle ? { transform: `rotate(${box.angle} ${box.x + box.w / 2} ${box.y + box.h / 2})` } : {}),
    });
    view.append(rect);
    const card = el("div", { class: "crop", "data-testid": `crop-${c}`, style: `border-top: 3px solid ${colour}` });
    card.append(
      el(
        "h3",
        { "data-testid": `crop-${c}-box`, "data-value": `${box.x},${box.y},${box.w},${box.h},${box.flip ? 1 : 0}` },
        `crop ${c}: x ${box.x}, y ${box.y}, ${box.w}×${box.h}${box.angle ? `, turned ${box.angle.toFixed(1)}°` : ""}${box.flip ? ", flipped" : ""}`,
      ),
    );
    const mix = schedule.mix.kind === "none" ? null : mixFor(schedule, epoch, slot, h.images);
    if (mix)
      card.append(
        el(
          "div",
          { class: "muted" },
          `${schedule.mix.kind} with image ${mix.partnerImage}, λ = ${mix.lambda.toFixed(3)}`,
        ),
      );
    for (let j = 0; j < h.k; j++) {
      const id = records.ids[c * h.k + j],
        p = records.probs[c * h.k + j];
      const bar = el("div", { class: `bar${id === target ? " target" : ""}` });
      const track = el("div");
      track.append(el("div", { class: "fill", style: `width: ${(p * 100).toFixed(2)}%` }));
      bar.append(
        el(
          "span",
          { class: "name", "data-testid": `crop-${c}-id-${j}`, "data-value": id, title: className(run, id) },
          className(run, id),
        ),
        track,
        num(`crop-${c}-p-${j}`, p, p.toFixed(3)),
      );
      card.append(bar);
    }
    cards.append(card);
  }
  $("detail").replaceChildren(view, cards);
  $("detail-note").textContent =
    `image ${image} (${className(run, target)}), epoch ${epoch}, batch slot ${slot}; green bar = target class`;
  $("detail-note").dataset.image = String(image);
  $("detail-note").dataset.epoch = String(epoch);
}

async function main(): Promise<void> {
  const run = await load();
  renderStats(run);
  renderPlots(run);
  const h = run.header;
  const epochInput = $<HTMLInputElement>("epoch");
  epochInput.min = String(h.epochStart);
  epochInput.max = String(h.epochStart + h.epochCount - 1);
  epochInput.value = String(h.epochStart);
  let selected = -1;
  const show = () => {
    if (selected < 0) return;
    const e = Math.min(
      h.epochStart + h.epochCount - 1,
      Math.max(h.epochStart, Math.floor(Number(epochInput.value) || 0)),
    );
    $("detail").dataset.state = "loading";
    renderDetail(run, selected, e).then(
      () => ($("detail").dataset.state = "ready"),
      (err: Error) => status(`crop view: ${err.message}`, true),
    );
  };
  const select = (i: number) => {
    document.querySelector(".row img.selected")?.classList.remove("selected");
    document.querySelector(`[data-image="${i}"]`)?.classList.add("selected");
    selected = i;
    show();
  };
  const classes = run.manifest.dataset.classes;
  const showClass = (cls: number) => {
    const first = Math.max(0, Math.min(cls, classes - 1));
    if (!document.getElementById(`class-row-${first}`))
      renderGrid(run, Math.min(first, Math.max(0, classes - GRID_ROWS)), select);
    document.getElementById(`class-row-${first}`)?.scrollIntoView({ block: "center" });
  };
  renderGrid(run, 0, select);
  const from = $<HTMLInputElement>("grid-from");
  from.onchange = () =>
    renderGrid(run, Math.max(0, Math.min(Math.floor(Number(from.value) || 0), classes - 1)), select);
  // a worst class's row in the table shows that class in the grid
  document.querySelectorAll<HTMLElement>("[data-testid$='-class']").forEach((td) => {
    td.style.cursor = "pointer";
    td.title = "show this class in the grid";
    td.onclick = () => showClass(Number(td.dataset.value));
  });
  epochInput.onchange = show;
  status("ready");
}

main().catch((e: Error) => status(`error: ${e.message}`, true));
