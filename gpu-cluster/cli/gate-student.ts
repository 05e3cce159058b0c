// `distill gate-student`: one random draw's student of the recover gate, or baseline (a)'s
// students, trained into the run's student cache: the task of a --gate-workers helper process
// (gate-helpers.ts starts it with the run's options in a file, so that it computes the keys the
// run's process looks its students up by).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { CliOptions } from "./options.ts";
import { Pipeline } from "./pipeline.ts";
import { HARD_BASELINE, type HelperTask } from "./gate-helpers.ts";

export function addGateStudentCommand(program: Command): void {
  program
    .command("gate-student")
    .description(
      "one random draw's student of the recover gate, or baseline (a)'s students, into the run's student cache (a --gate-workers helper)",
    )
    .requiredOption("--options <file.json>", "the run's options, as the gate's process wrote them (gate/options.json)")
    .requiredOption("--candidate <name>", `the draw: random, draw-2, …; ${HARD_BASELINE}: baseline (a)'s students`)
    .action(async (a: { options: string; candidate: HelperTask }) => {
      const o = JSON.parse(readFileSync(a.options, "utf8")) as CliOptions;
      const p = new Pipeline(o, `distill gate-student --candidate ${a.candidate}`);
      // beside the gate's process and the other helpers (GateHelpers writes their number)
      if (typeof o.gateWorkers === "number") p.sharingCores = o.gateWorkers;
      if (a.candidate === HARD_BASELINE) {
        for (const arch of o.students) await p.hardBaselineStudents(arch);
        return;
      }
      await p.resolveImageBits();
      await p.gate.student(a.candidate);
    });
}
