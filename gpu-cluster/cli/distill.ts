#!/usr/bin/env -S npx tsx
// `distill`: the command line of the gpu-cluster worker. `distill run` does squeeze → recover →
// relabel → evaluate in one run folder; each subcommand does one stage (and needs the files of
// the stages before it; --teacher FILE is imported by any of them). Stages whose outputs exist
// and match the config are skipped.
import { Command } from "commander";
import { addRunOptions, type CliOptions } from "./options.ts";
import { Pipeline } from "./pipeline.ts";
import { chooseWebGpuDriver } from "../runtime/webgpu-driver.ts";
import { renderReportMarkdown } from "./report.ts";
import { addInspectCommand } from "./inspect.ts";
import { addContinualCommand } from "./continual.ts";
import { addTrainCommand } from "./train.ts";
import { addGateStudentCommand } from "./gate-student.ts";
import { addShardCommands } from "./cluster/shard-commands.ts";
import { addClusterCommands } from "./cluster/cluster-commands.ts";

const program = new Command("distill")
  .description("SRe2L dataset distillation (squeeze, recover, relabel, evaluate) on ONNX Runtime")
  .showHelpAfterError();

type Stage = "squeeze" | "recover" | "relabel" | "evaluate";
const ORDER: Stage[] = ["squeeze", "recover", "relabel", "evaluate"];

function stageCommand(name: Stage | "run", description: string, stages: Stage[]): void {
  addRunOptions(program.command(name).description(description)).action(async (opts: CliOptions) => {
    const p = new Pipeline(opts, ["distill", ...process.argv.slice(2)].join(" "));
    p.evaluatesAfterRecover = stages.includes("recover") && stages.includes("evaluate");
    process.stderr.write(`run folder: ${p.run.dir}\n`);
    // refused before writing anything (e.g. a teacher of other data), it leaves no folder behind
    await p.run.runOrDiscardEmpty(async () => {
      if (opts.ep === "webgpu") process.stderr.write(`WebGPU adapter: ${chooseWebGpuDriver().description}\n`);
      p.refuseUnservableFlags();
      // a teacher handed to a later stage is imported first, as squeeze does (skipped once imported)
      if (opts.teacher && !stages.includes("squeeze")) await p.squeeze();
      try {
        for (const s of stages) {
          if (s === "evaluate") {
            const report = await p.evaluate();
            process.stdout.write(renderReportMarkdown(report));
          } else {
            await p[s]();
          }
        }
      } finally {
        p.gate.stopHelpers(); // a stage failed after recover: no helper outlives the run
      }
    });
  });
}

stageCommand("run", "all four stages (the main job; `npm start` runs it on MNIST, IPC 10)", ORDER);
stageCommand("squeeze", "train the teacher on the real data, or import --teacher FILE.onnx", ["squeeze"]);
stageCommand("recover", "synthesise the images through the frozen teacher", ["recover"]);
stageCommand("relabel", "soft labels of every crop of every epoch, into a label table", ["relabel"]);
stageCommand("evaluate", "train students on the distilled set and the baselines; write the report", ["evaluate"]);
addInspectCommand(program); // program.command("inspect"): label-table statistics and the inspector page
addContinualCommand(program); // program.command("continual"): class-incremental learning from distilled sets
addTrainCommand(program); // program.command("train"): a student trained from the edge's batch stream; --serve: the browser page
addGateStudentCommand(program); // program.command("gate-student"): a --gate-workers helper's student
addShardCommands(program); // program.command("shard"): the shard jobs of a cluster run
addClusterCommands(program); // program.command("cluster"): submit to Slurm, dispatch launches from the edge

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`distill: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
