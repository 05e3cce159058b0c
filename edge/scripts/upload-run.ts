// Uploads a run folder (written by the gpu-cluster CLI: manifest.json, labels.dlt,
// images/NNNNNN.png) to the edge: optionally creates the run (admin token), then its images
// and label table (worker token). Idempotent: what is already published is skipped.
//   npx tsx edge/scripts/upload-run.ts <run-folder> --url http://127.0.0.1:8787 --worker <token> [--admin <token>]
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { parseManifest } from "../../shared/manifest.ts";

const program = new Command()
  .name("upload-run")
  .argument("<folder>", "run folder with manifest.json, labels.dlt and images/")
  .requiredOption("--url <url>", "edge base URL")
  .requiredOption("--worker <token>", "worker token scoped to the run")
  .option("--admin <token>", "admin token: create the run first")
  .option("--concurrency <n>", "parallel image uploads", "8")
  .action(async (folder: string, o: { url: string; worker: string; admin?: string; concurrency: string }) => {
    const manifest = parseManifest(JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8")));
    const base = o.url.replace(/\/+$/, "");
    const run = manifest.runId;
    const put = async (path: string, bytes: Uint8Array<ArrayBuffer>) => {
      const r = await fetch(`${base}${path}`, {
        method: "PUT",
        body: bytes,
        headers: {
          authorization: `Bearer ${o.worker}`,
          "x-content-sha256": createHash("sha256").update(bytes).digest("hex"),
        },
      });
      if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, unknown>>;
    };
    if (o.admin) {
      const r = await fetch(`${base}/v1/runs`, {
        method: "POST",
        body: JSON.stringify(manifest),
        headers: { authorization: `Bearer ${o.admin}`, "content-type": "application/json" },
      });
      if (!r.ok && r.status !== 409) program.error(`create run ${run}: ${r.status} ${await r.text()}`);
      console.log(r.status === 409 ? `run ${run} exists` : `created run ${run}`);
    }
    const imagesDir = join(folder, "images");
    const pngs = existsSync(imagesDir)
      ? readdirSync(imagesDir)
          .filter((f) => /^[0-9]{6}\.png$/.test(f))
          .sort()
      : [];
    let next = 0,
      done = 0;
    await Promise.all(
      Array.from({ length: Number(o.concurrency) }, async () => {
        while (next < pngs.length) {
          const f = pngs[next++];
          await put(
            `/v1/runs/${run}/images/${Number(f.slice(0, 6))}`,
            new Uint8Array(readFileSync(join(imagesDir, f))),
          );
          done++;
        }
      }),
    );
    console.log(`images: ${done} of ${manifest.images} uploaded`);
    const table = join(folder, "labels.dlt");
    if (existsSync(table))
      console.log(
        "table shard 0:",
        JSON.stringify(await put(`/v1/runs/${run}/tables/0`, new Uint8Array(readFileSync(table)))),
      );
  });

await program.parseAsync();
