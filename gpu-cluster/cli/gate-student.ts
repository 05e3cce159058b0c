// `distill gate-student`: one random draw's student of the recover gate, trained into the run's
// student cache: the task of a --gate-workers helper process (gate-helpers.ts starts it with the
// run's options in a file, so that it computes the keys the gate's process looks its student up by).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { GateCandidate } from "../../shared/gate-candidates.ts";
import type { CliOptions } from "./options.ts";
import { Pipeline } from "./pipeline.ts";

export function addGateStudentCommand(program: Command): void {
  program
    .command("gate-student")
    .description(
      "one random draw's student of the recover gate, into the run's student cache (a --gate-workers helper)",
    )
    .requiredOption("--options <file.json>", "the run's options, as the gate's process wrote them (gate/options.json)")
    .requiredOption("--candidate <name>", "the draw: random, draw-2, …")
    .action(async (a: { options: string; candidate: GateCandidate }) => {
      const o = JSON.parse(readFileSync(a.options, "utf8")) as CliOptions;
      const p = new Pipeline(o, `distill gate-student --candidate ${a.candidate}`);
      // beside the gate's process and the other helpers (GateHelpers writes their number)
      if (typeof o.gateWorkers === "number") p.sharingCores = o.gateWorkers;
      await p.resolveImageBits();
      await p.gate.student(a.candidate);
    });
}
