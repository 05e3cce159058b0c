// Test helpers for the edge inside the Workers runtime: a fetch against the Worker (SELF), and
// the fixtures of fixtures.ts.
import { SELF } from "cloudflare:test";
import { BASE, manifestFor, newRunId, sha256Hex, tokenFor, type RunShape } from "./fixtures.ts";

export * from "./fixtures.ts";

export interface CallOptions {
  token?: string;
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export function call(path: string, o: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.json !== undefined) headers["content-type"] = "application/json";
  return SELF.fetch(BASE + path, {
    method: o.method ?? "GET",
    headers,
    body: o.json !== undefined ? JSON.stringify(o.json) : o.body,
  });
}

export async function errorCode(r: Response): Promise<string> {
  const body = (await r.json()) as { error?: { code?: string } };
  return body.error?.code ?? "(none)";
}

/** PUT bytes with the headers uploads need. */
export async function upload(path: string, token: string, bytes: Uint8Array, sha?: string): Promise<Response> {
  return call(path, {
    token,
    method: "PUT",
    body: bytes as Uint8Array<ArrayBuffer>,
    headers: { "x-content-sha256": sha ?? (await sha256Hex(bytes)), "content-length": String(bytes.length) },
  });
}

/** Creates a run as admin and returns its manifest plus worker and trainer tokens. */
export async function createRun(shape: RunShape, prefix?: string) {
  const runId = newRunId(prefix);
  const m = manifestFor(runId, shape);
  const admin = await tokenFor("admin", "*");
  const r = await call("/v1/runs", { token: admin, method: "POST", json: m });
  if (r.status !== 201) throw new Error(`create run: ${r.status} ${await r.text()}`);
  return { runId, m, admin, worker: await tokenFor("worker", [runId]), trainer: await tokenFor("trainer", [runId]) };
}
