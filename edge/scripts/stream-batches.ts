// Streams a run's batches from the edge with the training client (Node), prints a summary and,
// with --check <labels.dlt>, compares every label with the local table (exact).
//   npx tsx edge/scripts/stream-batches.ts --url http://127.0.0.1:8787 --token <trainer> --run <id> --size 256 [--epochs 2] [--pixels] [--check labels.dlt]
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { decodeLabelTable } from "../../shared/label-table/index.ts";
import { BatchClient } from "../client/batch-client.ts";

const program = new Command()
  .name("stream-batches")
  .requiredOption("--url <url>", "edge base URL")
  .requiredOption("--token <token>", "trainer token")
  .requiredOption("--run <id>", "run id")
  .option("--size <n>", "batch size", "256")
  .option("--epochs <n>", "epochs to stream (from 0)", "1")
  .option("--pixels", "fetch crop pixels too")
  .option("--prefetch <n>", "requests ahead", "4")
  .option("--check <table>", "local labels.dlt to compare every label with")
  .action(
    async (o: {
      url: string;
      token: string;
      run: string;
      size: string;
      epochs: string;
      pixels?: boolean;
      prefetch: string;
      check?: string;
    }) => {
      const client = await BatchClient.open({
        baseUrl: o.url,
        token: o.token,
        run: o.run,
        batchSize: Number(o.size),
        pixels: !!o.pixels,
        prefetch: Number(o.prefetch),
        onRetry: (r) => console.error(`retry ${r.attempt} in ${r.delayMs.toFixed(0)} ms: ${r.reason}`),
      });
      const table = o.check ? decodeLabelTable(readFileSync(o.check)) : null;
      const t0 = performance.now();
      let batches = 0,
        crops = 0,
        bytes = 0,
        mismatches = 0;
      for await (const b of client.batches({ epoch: 0, batch: 0 }, Number(o.epochs))) {
        batches++;
        crops += b.crops;
        bytes += b.probs.buffer.byteLength;
        if (table) {
          for (let s = 0; s < b.slots; s++) {
            const rec = table.record(b.epoch, b.firstSlot + s);
            for (let j = 0; j < b.k; j++)
              if (rec.ids[j] !== b.ids[s * b.k + j] || rec.probs[j] !== b.probs[s * b.k + j]) mismatches++;
          }
        }
        if (batches === 1) {
          const top = Array.from(b.ids.subarray(0, 3), (id, j) => `${id}:${b.probs[j].toFixed(3)}`).join(" ");
          console.log(
            `epoch ${b.epoch} batch ${b.batch}: ${b.crops} crops, first crop image ${b.image[0]} box [${Array.from(b.box.subarray(0, 4))}] top-3 ${top}${b.pixels ? `, pixels ${b.pixels.length} floats` : ""}`,
          );
        }
      }
      const s = (performance.now() - t0) / 1000;
      console.log(
        `${batches} batches, ${crops} crops, ${(bytes / 1e6).toFixed(2)} MB in ${s.toFixed(2)} s (${(crops / s).toFixed(0)} crops/s)` +
          (table ? `; labels differing from ${o.check}: ${mismatches}` : ""),
      );
      if (mismatches) process.exitCode = 1;
    },
  );

await program.parseAsync();
