// `distill train --serve`: the browser trainer page for local use, on 127.0.0.1. One origin
// serves the page (web-trainer/build/), onnxruntime-web's runtime files (/ort/), the held-out
// set (/heldout.bin: the first --heldout images of the val data, with the normalisation) and
// the edge itself (/v1/* forwarded to --edge), so the page needs no CORS from the edge. The
// page is cross-origin isolated (COOP/COEP), so the wasm EP may use threads.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { channelStats, loadDataset } from "../data/index.ts";
import { encodeHeldOut } from "../stream/heldout.ts";
import { buildTrainerPage, ORT_WEB_DIST } from "../../web-trainer/build.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
};

const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

export interface TrainerPageServer {
  url: string;
  close(): Promise<void>;
}

/** Headers forwarded to and from the edge (never logged: the authorization header carries the token). */
const FORWARD_REQUEST = ["authorization", "content-type", "content-length", "x-content-sha256"];
const FORWARD_RESPONSE = ["content-type", "content-length", "cache-control", "etag"];

export interface ServeOptions {
  /** The edge the page's /v1/* requests go to. */
  edge: string;
  /** The val data (as `distill train --data`); its first `heldout` images go to the page. */
  data?: string;
  resolution?: number;
  heldout: number;
  /** The run's seed: the val split of an image folder without train/ and val/ depends on it. */
  seed?: number;
  port?: number;
}

export async function serveTrainerPage(o: ServeOptions): Promise<TrainerPageServer> {
  const pageDir = await buildTrainerPage(true);
  const edge = o.edge.replace(/\/+$/, "");
  const splits = loadDataset(
    o.data,
    o.resolution ? { height: o.resolution, width: o.resolution, seed: o.seed ?? 0 } : { seed: o.seed ?? 0 },
  );
  const heldout = encodeHeldOut(splits.val, channelStats(splits.train), o.heldout);

  const serveFile = (res: ServerResponse, dir: string, rel: string) => {
    const path = normalize(join(dir, rel));
    if (!path.startsWith(dir + sep) || !existsSync(path) || !statSync(path).isFile())
      return send(res, 404, `not found: /${rel}`);
    res.writeHead(200, {
      ...ISOLATION,
      "content-type": TYPES[extname(path)] ?? "application/octet-stream",
      "content-length": statSync(path).size,
    });
    createReadStream(path).pipe(res);
  };

  const proxy = async (req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string> = {};
    for (const h of FORWARD_REQUEST) if (typeof req.headers[h] === "string") headers[h] = req.headers[h] as string;
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    let upstream: Response;
    try {
      upstream = await fetch(edge + req.url, {
        method: req.method,
        headers,
        body: hasBody ? (req as unknown as ReadableStream) : undefined,
        ...(hasBody ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (e) {
      return send(res, 502, `the edge at ${edge} did not answer (${(e as Error).message}): is it running?`);
    }
    const out: Record<string, string> = { ...ISOLATION };
    for (const h of FORWARD_RESPONSE) {
      const v = upstream.headers.get(h);
      if (v) out[h] = v;
    }
    res.writeHead(upstream.status, out);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path.startsWith("/v1/")) return void proxy(req, res).catch((e) => send(res, 500, (e as Error).message));
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "GET only");
    if (path === "/" || path === "/index.html") return serveFile(res, pageDir, "index.html");
    if (path === "/trainer.js") return serveFile(res, pageDir, "trainer.js");
    if (path === "/heldout.bin") {
      res.writeHead(200, {
        ...ISOLATION,
        "content-type": "application/octet-stream",
        "content-length": heldout.length,
      });
      return void res.end(heldout);
    }
    if (path.startsWith("/ort/")) return serveFile(res, ORT_WEB_DIST, path.slice(5));
    send(res, 404, `not found: ${path}`);
  });
  await new Promise<void>((done, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(
        e.code === "EADDRINUSE" ? new Error(`port ${o.port} is in use: pass another --port (0 picks a free one)`) : e,
      ),
    );
    server.listen(o.port ?? 8788, "127.0.0.1", done);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { ...ISOLATION, "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
