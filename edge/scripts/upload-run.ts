// Uploads a run folder (written by the gpu-cluster CLI: manifest.json, labels.dlt,
// images/NNNNNN.png) to the edge: optionally creates the run (admin token), then its images
// and label table (worker token). Idempotent: what is already published is skipped. Retries
// network errors, 408, 429 and 5xx (wrangler dev's 503 among them) with backoff.
//   npx tsx edge/scripts/upload-run.ts <run-folder> --url http://127.0.0.1:8787 --worker <token> [--admin <token>]
import { Command } from "commander";
import { uploadRun } from "./run-uploader.ts";

const program = new Command()
  .name("upload-run")
  .argument("<folder>", "run folder with manifest.json, labels.dlt and images/")
  .requiredOption("--url <url>", "edge base URL")
  .requiredOption("--worker <token>", "worker token scoped to the run")
  .option("--admin <token>", "admin token: create the run first")
  .option("--concurrency <n>", "parallel image uploads", "8")
  .option("--retries <n>", "retries per request (network errors, 408, 429, 5xx)", "6")
  .action(
    async (
      folder: string,
      o: { url: string; worker: string; admin?: string; concurrency: string; retries: string },
    ) => {
      try {
        await uploadRun(folder, {
          url: o.url,
          worker: o.worker,
          admin: o.admin,
          concurrency: Number(o.concurrency),
          retries: Number(o.retries),
          log: (line) => console.log(line),
          onRetry: (r) =>
            console.error(`retry ${r.attempt} of ${r.path} in ${r.delayMs.toFixed(0)} ms: ${r.reason.split("\n")[0]}`),
        });
      } catch (e) {
        program.error(e instanceof Error ? e.message : String(e));
      }
    },
  );

await program.parseAsync();
