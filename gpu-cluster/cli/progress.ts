// The CLI's progress bars (the stages' Progress, stages/progress.ts): label, bar, count, rate,
// ETA and a free-form info field (loss, accuracy...). On a terminal they redraw in place;
// elsewhere (pipes, CI logs) they print a line every few seconds.
import cliProgress from "cli-progress";
import type { Progress, StartProgress } from "../stages/progress.ts";

function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return "-";
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond >= 1) return perSecond.toFixed(1);
  return perSecond.toPrecision(2);
}

/** One bar; `unit` is shown with the rate ("img", "step", "crop"). */
export function createProgress(
  label: string,
  total: number,
  unit = "it",
  stream: NodeJS.WritableStream = process.stderr,
): Progress {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  const bar = new cliProgress.SingleBar({
    format: `${label.padEnd(10)} |{bar}| {value}/{total} {rate} ${unit}/s ETA {eta_formatted} {info}`,
    barCompleteChar: "█",
    barIncompleteChar: "░",
    barsize: 24,
    hideCursor: tty ? true : null,
    stream,
    noTTYOutput: !tty,
    notTTYSchedule: 5000,
    etaBuffer: 50,
    fps: 5,
  });
  const start = performance.now();
  let done = 0;
  let info = "";
  const payload = () => ({ rate: formatRate(done / ((performance.now() - start) / 1000)), info });
  bar.start(total, 0, payload());
  return {
    update(n, text) {
      done = n;
      if (text !== undefined) info = text;
      bar.update(n, payload());
    },
    tick(n = 1, text) {
      this.update(done + n, text);
    },
    stop(text) {
      if (text !== undefined) info = text;
      bar.update(done, payload());
      bar.stop();
    },
  };
}

/** What the CLI hands the stages: bars on stderr. */
export const progressBars: StartProgress = (label, total, unit) => createProgress(label, total, unit);
