// The cluster side's calls to the edge (outbound HTTPS only): shard jobs publish the manifest,
// their images and their table shards with a worker token; the dispatcher reads launches,
// reports shard states and mints the worker token of each run with its admin token. Network
// errors, 5xx and 429 are retried with backoff; other refusals throw with the edge's code.
import { createHash } from "node:crypto";
import { readFileExplained } from "../../io/read-file.ts";

export class EdgeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The token of a job: DISTILL_EDGE_TOKEN_FILE (the dispatcher writes it, mode 600), else DISTILL_EDGE_TOKEN. */
export function tokenFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const file = env.DISTILL_EDGE_TOKEN_FILE;
  const token = file ? readTokenFile(file, "DISTILL_EDGE_TOKEN_FILE") : env.DISTILL_EDGE_TOKEN;
  if (!token)
    throw new Error(
      "--edge needs a worker token: set DISTILL_EDGE_TOKEN_FILE (a file holding it) or DISTILL_EDGE_TOKEN (the dispatcher sets the file for its jobs)",
    );
  return token;
}

/** A token kept in a file (--token-file, DISTILL_EDGE_TOKEN_FILE): read, trimmed, refused when unreadable or empty. */
export function readTokenFile(file: string, source = "--token-file"): string {
  const token = readFileExplained(file, source, "give a file holding the token (an admin mints one: POST /v1/tokens)")
    .toString("utf8")
    .trim();
  if (!token) throw new Error(`${source} ${file}: the file is empty: write the token into it`);
  return token;
}

export class EdgeApi {
  readonly base: string;

  constructor(
    base: string,
    readonly token: string,
    readonly retries = 4,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  async call<T>(method: string, path: string, body?: Uint8Array | object): Promise<{ status: number; json: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      headers["x-content-sha256"] = createHash("sha256").update(body).digest("hex");
      headers["content-length"] = String(body.length);
      payload = body as Uint8Array<ArrayBuffer>;
    } else if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    for (let attempt = 0; ; attempt++) {
      let r: Response;
      try {
        r = await fetch(`${this.base}${path}`, { method, headers, body: payload });
      } catch (e) {
        if (attempt >= this.retries) throw new Error(`${method} ${path}: ${(e as Error).message}`);
        await new Promise((res) => setTimeout(res, 250 * 2 ** attempt));
        continue;
      }
      if ((r.status >= 500 || r.status === 429) && attempt < this.retries) {
        await r.body?.cancel();
        await new Promise((res) => setTimeout(res, 250 * 2 ** attempt));
        continue;
      }
      const json = (await r.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
      if (!r.ok)
        throw new EdgeError(
          r.status,
          json.error?.code ?? "HTTP",
          `${method} ${path}: ${r.status} ${json.error?.code ?? ""} ${json.error?.message ?? ""}`.trim(),
        );
      return { status: r.status, json };
    }
  }
}
