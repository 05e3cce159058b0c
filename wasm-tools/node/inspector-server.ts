// Node side of the inspector page: its built files (for the edge app and `--html`), and a
// loopback static server over a run folder (`distill inspect <run> --serve`). The server lays
// files out as `--html` does: the run folder at /, the page at /inspector/, so the page's
// relative URLs (default run "../") work the same in both. The page is built beforehand
// (`npm run build:wasm`); nothing here compiles.
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import { INSPECTOR_BUILD, INSPECTOR_FILES, notBuilt } from "./build-paths.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
  ".md": "text/markdown; charset=utf-8",
  ".dlt": "application/octet-stream",
  ".npy": "application/octet-stream",
};

/** The built page, by path relative to the page folder: index.html, inspector.js, label-stats.wasm (`npm run build:wasm` builds them). */
export function inspectorAssets(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of INSPECTOR_FILES) {
    const p = join(INSPECTOR_BUILD, f);
    if (!existsSync(p)) throw new Error(notBuilt(p));
    out[f] = new Uint8Array(readFileSync(p));
  }
  return out;
}

/** Writes the page into <run>/inspector/ (beside, then renamed); returns that folder. */
export async function writeInspectorPage(runDir: string): Promise<string> {
  const assets = inspectorAssets();
  const dir = join(runDir, "inspector");
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, bytes] of Object.entries(assets)) writeFileSync(join(tmp, name), bytes);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

export interface InspectorServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves the page at /inspector/ and the run folder's files at / on 127.0.0.1 (GET/HEAD, byte ranges). */
export async function serveInspector(
  runDir: string,
  o: { port?: number; host?: string } = {},
): Promise<InspectorServer> {
  const assets = inspectorAssets();
  const root = resolve(runDir);
  const server = createServer((req, res) => {
    try {
      handle(root, assets, req, res);
    } catch (e) {
      send(res, 500, `inspector server: ${(e as Error).message}`);
    }
  });
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((done, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(
        e.code === "EADDRINUSE"
          ? new Error(`port ${o.port} is in use: pass another with --port N (0 picks a free one)`)
          : e,
      ),
    );
    server.listen(o.port ?? 0, host, done);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/inspector/`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text + "\n");
}

function handle(root: string, assets: Record<string, Uint8Array>, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "only GET and HEAD");
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  if (path === "/" || path === "/inspector") {
    res.writeHead(302, { location: "/inspector/" });
    return void res.end();
  }
  if (path.startsWith("/inspector/")) {
    const name = path.slice("/inspector/".length) || "index.html";
    const body = assets[name];
    if (!body) return send(res, 404, `${path}: not a file of the inspector page`);
    res.writeHead(200, {
      "content-type": TYPES[extname(name)] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": "no-cache",
    });
    return void res.end(req.method === "HEAD" ? undefined : body);
  }
  const file = resolve(root, "." + path);
  if (file !== root && !file.startsWith(root + sep)) return send(res, 403, `${path}: outside the run folder`);
  if (!existsSync(file) || !statSync(file).isFile()) return send(res, 404, `${path}: no such file in the run folder`);
  const size = statSync(file).size;
  const type = TYPES[extname(file)] ?? "application/octet-stream";
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  if (range) {
    const start = Number(range[1]),
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start > end || start >= size) {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      return void res.end();
    }
    res.writeHead(206, {
      "content-type": type,
      "content-length": end - start + 1,
      "content-range": `bytes ${start}-${end}/${size}`,
      "accept-ranges": "bytes",
    });
    if (req.method === "HEAD") return void res.end();
    return void createReadStream(file, { start, end }).pipe(res);
  }
  res.writeHead(200, {
    "content-type": type,
    "content-length": size,
    "accept-ranges": "bytes",
    "cache-control": "no-cache",
  });
  if (req.method === "HEAD") return void res.end();
  createReadStream(file).pipe(res);
}
