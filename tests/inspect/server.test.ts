// The loopback server of `distill inspect --serve`: the page at /inspector/, the run folder at /,
// byte ranges of labels.dlt (the page reads big tables by Range), nothing outside the folder.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectorAssets, serveInspector, type InspectorServer } from "../../wasm-tools/node/inspector-server.ts";
import { makeRunFolder, SMALL_RUN } from "./run-folder.ts";

const run = join(process.cwd(), "test-output", "inspect-server", "run");
let server: InspectorServer;
let table: Uint8Array;
let origin: string;

beforeAll(async () => {
  table = makeRunFolder(run, SMALL_RUN).table;
  server = await serveInspector(run, { port: 0 });
  origin = new URL(server.url).origin;
});
afterAll(() => server?.close());

describe("inspector server", () => {
  it("serves the built page and the run folder", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/inspector\/$/);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toBe(Buffer.from(inspectorAssets()["index.html"]).toString());
    const wasm = await fetch(new URL("label-stats.wasm", server.url));
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(inspectorAssets()["label-stats.wasm"]);
    const manifest = await fetch(`${origin}/manifest.json`);
    expect(await manifest.json()).toEqual(JSON.parse(readFileSync(join(run, "manifest.json"), "utf8")));
    const png = await fetch(`${origin}/images/000004.png`);
    expect(png.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await png.arrayBuffer())).toEqual(
      new Uint8Array(readFileSync(join(run, "images", "000004.png"))),
    );
    expect((await fetch(origin + "/", { redirect: "manual" })).headers.get("location")).toBe("/inspector/");
  });

  it("answers byte ranges of the table", async () => {
    const r = await fetch(`${origin}/labels.dlt`, { headers: { Range: "bytes=100-139" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe(`bytes 100-139/${table.length}`);
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(table.subarray(100, 140));
    const tail = await fetch(`${origin}/labels.dlt`, { headers: { Range: `bytes=${table.length - 5}-` } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(table.subarray(table.length - 5));
    expect((await fetch(`${origin}/labels.dlt`, { headers: { Range: `bytes=${table.length}-` } })).status).toBe(416);
    const whole = await fetch(`${origin}/labels.dlt`);
    expect(Number(whole.headers.get("content-length"))).toBe(table.length);
  });

  it("refuses what is not in the run folder or the page", async () => {
    expect((await fetch(`${origin}/nope.json`)).status).toBe(404);
    expect((await fetch(`${origin}/inspector/other.js`)).status).toBe(404);
    expect((await fetch(`${origin}/..%2f..%2f..%2fpackage.json`)).status).toBe(403); // decoded "/../../../package.json"
    expect((await fetch(`${origin}/manifest.json`, { method: "POST" })).status).toBe(405);
  });
});
