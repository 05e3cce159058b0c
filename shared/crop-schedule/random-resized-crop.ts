// The crop box of (epoch, image, crop): torchvision's RandomResizedCrop — ten tries at an area
// drawn from `scale` and an aspect ratio drawn log-uniformly from `ratio`, else a centre crop
// with the ratio clamped — plus a horizontal flip. Every draw is numbered by (epoch, image,
// crop, try), so boxes are random access. With `rotate`, a turn of the crop about its centre.
import { uniform } from "../random.ts";
import type { CropScheduleParams } from "./params.ts";

export interface CropBox {
  /** Top-left corner and size in source pixels (integers). */
  x: number;
  y: number;
  w: number;
  h: number;
  flip: boolean;
  /** Turn of the sampling grid about the crop's centre, in degrees (absent: none). */
  angle?: number;
}

const STREAM_CROP = 2;

export function cropFor(p: CropScheduleParams, epoch: number, image: number, crop = 0): CropBox {
  const box = resizedCropBox(p, epoch, image, crop);
  if (p.rotate) box.angle = (2 * uniform(p.seed, STREAM_CROP, epoch, image, crop, 0, 10) - 1) * p.rotate;
  return box;
}

function resizedCropBox(p: CropScheduleParams, epoch: number, image: number, crop: number): CropBox {
  const S = p.sourceSize;
  const area = S * S;
  const u = (k: number, t = 0) => uniform(p.seed, STREAM_CROP, epoch, image, crop, t, k);
  const flip = u(9) < p.flipProb;
  const [lr0, lr1] = [Math.log(p.ratio[0]), Math.log(p.ratio[1])];
  for (let t = 0; t < 10; t++) {
    const target = area * (p.scale[0] + (p.scale[1] - p.scale[0]) * u(0, t));
    const aspect = Math.exp(lr0 + (lr1 - lr0) * u(1, t));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= S && h > 0 && h <= S) {
      const y = Math.floor(u(2, t) * (S - h + 1));
      const x = Math.floor(u(3, t) * (S - w + 1));
      return { x, y, w, h, flip };
    }
  }
  // Fallback: the whole image (square sources: any ratio range containing 1 gives this).
  const inRatio = Math.min(Math.max(1, p.ratio[0]), p.ratio[1]);
  const w = inRatio >= 1 ? S : Math.round(S * inRatio);
  const h = inRatio >= 1 ? Math.round(S / inRatio) : S;
  return { x: Math.floor((S - w) / 2), y: Math.floor((S - h) / 2), w, h, flip };
}
