// How a stage reports progress: it starts one Progress per loop (label, total, unit) and updates
// it. What that shows is the caller's choice: the CLI draws bars (cli/progress.ts); a caller that
// passes nothing (tests, library use) gets silence. Stages never draw anything themselves.

export interface Progress {
  /** Sets the done count (absolute) and optionally the info text. */
  update(done: number, info?: string): void;
  /** Adds `n` to the done count. */
  tick(n?: number, info?: string): void;
  stop(info?: string): void;
}

/** Starts the progress of one loop: `total` units ("step", "crop") labelled `label`. */
export type StartProgress = (label: string, total: number, unit: string) => Progress;

const silent: Progress = { update() {}, tick() {}, stop() {} };

/** Reports nothing. */
export const noProgress: StartProgress = () => silent;
