// Optimisers as graph updates. Each turns (parameter, gradient) pairs into updated values and
// declares the state it carries between steps (momentum buffers, Adam moments). The learning
// rate is a graph input fed every step, so the host drives any schedule; Adam's bias
// corrections are also fed by the host (they depend only on the step number).
import { tensor, type GraphBuilder } from "../graph/builder.ts";
import type { TensorData, Value } from "../graph/types.ts";
import type { StateBinding } from "../graph/state-binding.ts";

export interface ParamGrad {
  name: string;
  param: Value;
  grad: Value;
}

export interface OptimizerUpdate {
  /** New value of each parameter, by parameter name. */
  updated: Map<string, Value>;
  /** Optimiser state threaded between steps. */
  state: StateBinding[];
  /** Per-step scalar feeds (learning rate and what else the optimiser needs). */
  feeds(step: number, lr: number): Record<string, TensorData>;
}

export interface Optimizer {
  readonly kind: string;
  apply(b: GraphBuilder, params: readonly ParamGrad[]): OptimizerUpdate;
}

const zerosLike = (v: Value): TensorData => tensor(v.dtype, v.shape as number[]);
const scalarFeed = (x: number): TensorData => tensor("float32", [], [x]);

function stateSlot(b: GraphBuilder, name: string, like: Value): { input: Value; init: TensorData } {
  return { input: b.input(name, like.dtype, like.shape), init: zerosLike(like) };
}

/** SGD with momentum and (coupled, L2) weight decay, PyTorch semantics:
 *  v ← μ v + (g + λ w);  w ← w − lr · v */
export function sgd(o: { momentum?: number; weightDecay?: number } = {}): Optimizer {
  const mu = o.momentum ?? 0.9,
    wd = o.weightDecay ?? 0;
  return {
    kind: "sgd",
    apply(b, params) {
      const lr = b.input("lr", "float32", []);
      const updated = new Map<string, Value>();
      const state: StateBinding[] = [];
      b.scope("sgd", () => {
        for (const p of params) {
          const g = wd ? b.add(p.grad, b.scale(p.param, wd)) : p.grad;
          let step = g;
          if (mu) {
            const v = stateSlot(b, `${p.name}.momentum`, p.param);
            const vNext = b.add(b.scale(v.input, mu), g);
            state.push({ input: v.input, output: vNext, init: v.init });
            step = vNext;
          }
          updated.set(p.name, b.sub(p.param, b.mul(step, lr)));
        }
      });
      return { updated, state, feeds: (_step, rate) => ({ lr: scalarFeed(rate) }) };
    },
  };
}

/** Adam (weightDecay as L2 added to the gradient) or AdamW (decoupled: w ← w − lr·λ·w). */
export function adam(
  o: { beta1?: number; beta2?: number; eps?: number; weightDecay?: number; decoupled?: boolean } = {},
): Optimizer {
  const b1 = o.beta1 ?? 0.9,
    b2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8,
    wd = o.weightDecay ?? 0;
  const decoupled = o.decoupled ?? false;
  return {
    kind: decoupled ? "adamw" : "adam",
    apply(b, params) {
      const lr = b.input("lr", "float32", []);
      // lr_t = lr · √(1 − β2^t) / (1 − β1^t), fed by the host; ε is scaled to match PyTorch.
      const lrT = b.input("adam_lr_t", "float32", []);
      const epsT = b.input("adam_eps_t", "float32", []);
      const updated = new Map<string, Value>();
      const state: StateBinding[] = [];
      b.scope(decoupled ? "adamw" : "adam", () => {
        for (const p of params) {
          const g = wd && !decoupled ? b.add(p.grad, b.scale(p.param, wd)) : p.grad;
          const m = stateSlot(b, `${p.name}.adam_m`, p.param);
          const v = stateSlot(b, `${p.name}.adam_v`, p.param);
          const mNext = b.add(b.scale(m.input, b1), b.scale(g, 1 - b1));
          const vNext = b.add(b.scale(v.input, b2), b.scale(b.mul(g, g), 1 - b2));
          state.push({ input: m.input, output: mNext, init: m.init }, { input: v.input, output: vNext, init: v.init });
          const stepVal = b.mul(lrT, b.div(mNext, b.add(b.sqrt(vNext), epsT)));
          let w = b.sub(p.param, stepVal);
          if (wd && decoupled) w = b.sub(w, b.mul(b.scale(p.param, wd), lr));
          updated.set(p.name, w);
        }
      });
      return {
        updated,
        state,
        feeds: (step, rate) => {
          const t = step + 1;
          const bc1 = 1 - b1 ** t,
            bc2 = 1 - b2 ** t;
          // PyTorch: w −= lr/bc1 · m / (√v/√bc2 + ε) = lr·√bc2/bc1 · m / (√v + ε√bc2)
          return {
            lr: scalarFeed(rate),
            adam_lr_t: scalarFeed((rate * Math.sqrt(bc2)) / bc1),
            adam_eps_t: scalarFeed(eps * Math.sqrt(bc2)),
          };
        },
      };
    },
  };
}

export const adamw = (o: { beta1?: number; beta2?: number; eps?: number; weightDecay?: number } = {}): Optimizer =>
  adam({ ...o, weightDecay: o.weightDecay ?? 0.01, decoupled: true });

/**
 * Cosine decay from `base` over `total` steps after a linear warm-up of `warmup` steps. `stretch`
 * ζ ≥ 1 is EDC's smoothed schedule (Shao et al., NeurIPS 2024): the cosine of a run ζ times as long,
 * cut at `total`, so the rate ends at base·(1 + cos(π/ζ))/2 (ζ = 1: 0; ζ = 2: base/2).
 */
export function cosineLr(step: number, total: number, base: number, warmup = 0, stretch = 1): number {
  if (!(stretch >= 1)) throw new Error(`a cosine stretch is at least 1 (1: decay to 0), got ${stretch}`);
  if (step < warmup) return (base * (step + 1)) / warmup;
  const p = (step - warmup) / Math.max(1, total - warmup);
  return 0.5 * base * (1 + Math.cos((Math.PI * Math.min(1, p)) / stretch));
}
