// Starts `wrangler dev` (local R2, KV and Durable Objects, offline, no metrics) on a loopback
// port with the development signing key, for tests and benchmarks that need the real server.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_SIGNING_KEY } from "./dev-key.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

export interface WranglerDev {
  base: string;
  port: number;
  child: ChildProcess;
  /** What wrangler printed (for a failing test's message). */
  output: () => string;
  stop: () => Promise<void>;
}

/** A free loopback port (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startWranglerDev(persistTo: string, timeoutMs = 120_000): Promise<WranglerDev> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      join(root, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--local",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      // its own inspector port too: wrangler's default (9229) is taken by a second wrangler dev beside it
      "--inspector-port",
      String(await freePort()),
      "--persist-to",
      persistTo,
      "--var",
      `TOKEN_SIGNING_KEY:${DEV_SIGNING_KEY}`,
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
    ],
    {
      cwd: root,
      detached: true, // its own process group: stop() ends wrangler and its workerd together
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    },
  );
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      return; // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`wrangler dev exited before answering:\n${output}`);
    try {
      if ((await fetch(`${base}/`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within ${timeoutMs / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { base, port, child, output: () => output, stop };
}
