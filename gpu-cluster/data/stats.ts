// Per-channel mean and standard deviation of a dataset's pixels in [0, 1] (population std, as
// the usual normalisation constants: MNIST 0.1307 / 0.3081). Accumulated in float64.
import type { Dataset } from "./dataset.ts";
import { pixelScale } from "./dataset.ts";

export interface ChannelStats {
  mean: number[];
  std: number[];
}

export function channelStats(d: Dataset): ChannelStats {
  const plane = d.height * d.width;
  const per = d.channels * plane;
  const n = d.labels.length;
  const s = pixelScale(d.images);
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < d.channels; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const base = i * per + c * plane;
      let ps = 0;
      let pq = 0;
      for (let j = 0; j < plane; j++) {
        const v = d.images[base + j];
        ps += v;
        pq += v * v;
      }
      sum += ps;
      sq += pq;
    }
    const count = n * plane;
    const m = (sum / count) * s;
    const variance = Math.max(0, (sq / count) * s * s - m * m);
    mean.push(m);
    std.push(Math.sqrt(variance));
  }
  return { mean, std };
}
