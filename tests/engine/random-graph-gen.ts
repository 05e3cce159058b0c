// Random composite graphs for gradient checking (random-graphs.test.ts). A spec is a start shape
// and a list of steps (operator + random integers); each step is applied to the current value,
// and its integers are resolved against that value's shape when the graph is built (axes, kernel
// sizes, broadcast partners, which earlier value to reuse). So every spec is a valid graph, and
// fast-check can shrink a failing one by dropping steps and zeroing choices.
import fc from "fast-check";
import { GraphBuilder, type AttrInput } from "../../gpu-cluster/graph/builder.ts";
import type { Value } from "../../gpu-cluster/graph/types.ts";
import type { GradCase, GradInput, Init } from "./gradcheck.ts";

export interface Step {
  op: string;
  r: number[];
}
export interface GraphSpec {
  f32: boolean;
  shape: number[];
  steps: Step[];
}

const MAX_RANK = 4;
/** Broadcasts, Expand, Concat and Pad stay below this many elements (convolutions may exceed it). */
const MAX_SIZE = 144;
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const fmt = (s: readonly number[]) => `[${s.join(",")}]`;

/** numpy broadcast of two shapes, or null when they do not broadcast. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length),
    out: number[] = [];
  for (let i = 0; i < r; i++) {
    const p = a[i - r + a.length] ?? 1,
      q = b[i - r + b.length] ?? 1;
    if (p !== q && p !== 1 && q !== 1) return null;
    out.push(Math.max(p, q));
  }
  return out;
}

interface Expr {
  op: string;
  args: (Value | null)[];
  shown: string;
  outputs: number;
}

/** The state of one build: the builder, the random choices of the current step, and a readable
 *  expression per value ("ReduceSum(Add(x0[2,3], x1[1,3]), axes=[0], keepdims=1)"). */
class Gen {
  readonly inputs: GradInput[] = [];
  /** How each value was made: a leaf's label, or a node (shared by its outputs) and output index. */
  private readonly made = new Map<Value, string | { e: Expr; k: number }>();
  readonly values: Value[] = [];
  /** Values bounded below by e^-1: safe for Log, Sqrt, Reciprocal, Div's denominator, Pow's base.
   *  Merely positive ones (Softmax, Exp) may be 1e-8 and would wreck finite differences. */
  readonly bounded = new Set<Value>();
  /** Values known to stay within a few units (inputs, Tanh, ...): Exp and Pow exponents take only
   *  these (others through a Tanh), so that no value swamps the loss's finite differences. */
  readonly small = new Set<Value>();
  private r: number[] = [];
  private k = 0;

  constructor(
    readonly b: GraphBuilder,
    readonly dtype: "float64" | "float32",
    private readonly given?: Value[],
  ) {}

  start(r: number[]) {
    this.r = r;
    this.k = 0;
  }
  /** A choice in [0, n). Zero when the step's integers run out (shrunk choices mean "first option"). */
  pick(n: number): number {
    return n <= 1 ? 0 : (this.r[this.k++] ?? 0) % n;
  }
  chance(): boolean {
    return this.pick(2) === 1;
  }

  /** The expression of y; a node used more than once is bound first ("t1 = ...; Div(t1, Exp(t1))"). */
  render(y: Value): string {
    const uses = new Map<Expr, number>(),
      order: Expr[] = [];
    const visit = (v: Value | null) => {
      const m = v && this.made.get(v);
      if (!m || typeof m === "string") return;
      uses.set(m.e, (uses.get(m.e) ?? 0) + 1);
      if (uses.get(m.e) === 1) {
        m.e.args.forEach(visit);
        order.push(m.e);
      }
    };
    visit(y);
    const bound = new Map(order.filter((e) => uses.get(e)! > 1).map((e, i) => [e, `t${i + 1}`]));
    const text = (v: Value | null): string => {
      const m = v && this.made.get(v);
      if (!m) return "-";
      if (typeof m === "string") return m;
      const out = m.e.outputs > 1 ? `.out${m.k}` : "";
      return (bound.get(m.e) ?? inline(m.e)) + out;
    };
    const inline = (e: Expr) => `${e.op}(${[...e.args.map(text), ...(e.shown ? [e.shown] : [])].join(", ")})`;
    return [...[...bound].map(([e, t]) => `${t} = ${inline(e)}; `), text(y)].join("");
  }

  /** A graph input (differentiated unless wrt = false). */
  leaf(shape: number[], init: Init = "normal", wrt = true, values?: number[]): Value {
    const i = this.inputs.length;
    this.inputs.push({ shape, init, wrt, values });
    const v = this.given ? this.given[i] : this.b.input(`x${i}`, this.dtype, shape);
    this.made.set(v, `${wrt ? "x" : "c"}${i}${fmt(shape)}`);
    if (init === "positive") this.bounded.add(v);
    this.small.add(v);
    return v;
  }

  /** Appends a node; `inputs` are shown in its name (constants such as axes are not), then `attrs`. */
  node(
    op: string,
    inputs: (Value | null)[],
    extra: (Value | null)[] = [],
    attrs: Record<string, AttrInput> = {},
    shown = "",
    outputs = 1,
  ): Value[] {
    const outs = this.b.op(op, [...inputs, ...extra], attrs, { outputs });
    const e: Expr = { op, args: inputs, shown, outputs };
    outs.forEach((o, k) => this.made.set(o, { e, k }));
    return outs;
  }
  op(op: string, inputs: (Value | null)[], attrs: Record<string, AttrInput> = {}, shown = ""): Value {
    return this.node(op, inputs, [], attrs, shown)[0];
  }
  /** An op whose trailing inputs are int64 constants (axes, shape, pads). */
  withInts(op: string, x: Value, ints: number[][], attrs: Record<string, number> = {}, shown = ""): Value {
    return this.node(
      op,
      [x],
      ints.map((v) => this.b.ints(v)),
      attrs,
      shown,
    )[0];
  }

  isSmall(x: Value): Value {
    this.small.add(x);
    return x;
  }
  /** x, or Tanh(x) when x may be large. */
  tame(x: Value): Value {
    return this.small.has(x) ? x : this.isSmall(this.op("Tanh", [x]));
  }

  /** x mapped to (e^-1, e) when it is not already bounded away from zero. */
  positive(x: Value): Value {
    if (this.bounded.has(x)) return x;
    const y = this.op("Exp", [this.op("Tanh", [x])]);
    this.bounded.add(y);
    this.small.add(y);
    return y;
  }

  /** A shape that broadcasts with s: equal, smaller (fewer leading dims, some dims 1) or larger
   *  (s's size-1 dims filled, a leading dim added: x[3] + y[2,3]). */
  partnerShape(s: number[]): number[] {
    const mode = this.pick(3);
    if (mode === 1) {
      const kept = s.slice(this.pick(s.length + 1));
      return kept.map((d) => (this.chance() ? 1 : d));
    }
    if (mode === 2) {
      const filled = s.map((d) => (d === 1 ? 1 + this.pick(3) : d));
      const bigger = s.length < MAX_RANK && this.chance() ? [2 + this.pick(2), ...filled] : filled;
      if (size(bigger) <= MAX_SIZE) return bigger;
    }
    return [...s];
  }

  /** The second operand of a broadcasting op: an earlier value (a DAG), x itself, or a new input. */
  partner(x: Value, init: Init = "normal"): Value {
    const s = x.shape as number[];
    const mode = this.pick(4);
    if (mode === 0) {
      const earlier = this.values.filter((v) => v !== x && broadcastOk(s, v.shape as number[]));
      if (earlier.length) return earlier[this.pick(earlier.length)];
    }
    if (mode === 1) return x;
    return this.leaf(this.partnerShape(s), init);
  }

  /** Rank 3 or 4 ([N, C, spatial...]), inserting size-1 axes at random places if needed. */
  spatial(x: Value): Value {
    const r = x.shape.length;
    if (r >= 3) return x;
    const target = 3 + this.pick(2);
    const free = [...Array(target).keys()],
      axes: number[] = [];
    for (let i = r; i < target; i++) axes.push(free.splice(this.pick(free.length), 1)[0]);
    axes.sort((p, q) => p - q);
    return this.withInts("Unsqueeze", x, [axes], {}, `axes=${fmt(axes)}`);
  }

  /** Rank below 4: merges two adjacent dims when x has rank 4 (before ops that add an axis). */
  roomForAxis(x: Value): Value {
    const s = x.shape as number[];
    if (s.length < MAX_RANK) return x;
    const a = this.pick(s.length - 1);
    const t = [...s.slice(0, a), s[a] * s[a + 1], ...s.slice(a + 2)];
    return this.withInts("Reshape", x, [t], {}, `shape=${fmt(t)}`);
  }
}

const broadcastOk = (a: number[], b: number[]) => {
  const o = broadcast(a, b);
  return !!o && size(o) <= MAX_SIZE;
};

type Apply = (g: Gen, x: Value) => Value;

const unary =
  (op: string): Apply =>
  (g, x) =>
    g.op(op, [x]);
const onPositive =
  (op: string): Apply =>
  (g, x) =>
    g.op(op, [g.positive(x)]);

/** Add/Sub/Mul/Div/Pow: x on either side, the other operand from `partner`. Div's denominator and
 *  Pow's base are kept away from zero. */
function binary(op: string): Apply {
  return (g, x) => {
    const xFirst = g.chance();
    const guardFirst = op === "Pow",
      guardSecond = op === "Div";
    let other = g.partner(x, (xFirst ? guardSecond : guardFirst) ? "positive" : "normal");
    let a = xFirst ? x : other,
      b = xFirst ? other : x;
    if (guardFirst) {
      a = g.positive(a);
      b = g.tame(b);
    }
    if (guardSecond) b = g.positive(b);
    return g.op(op, [a, b]);
  };
}

function permutation(g: Gen, n: number): number[] {
  const rest = [...Array(n).keys()],
    out: number[] = [];
  while (rest.length) out.push(rest.splice(g.pick(rest.length), 1)[0]);
  return out;
}

/** Random factorisation of n into 1–4 dims (some of them 1). */
function factorShape(g: Gen, n: number): number[] {
  const dims = Array(1 + g.pick(MAX_RANK)).fill(1);
  for (let m = n, p = 2; m > 1;) {
    if (m % p) {
      p++;
      continue;
    }
    dims[g.pick(dims.length)] *= p;
    m /= p;
  }
  return dims;
}

/** Per spatial axis: kernel, stride, dilation and pads whose window fits (output size ≥ 1). */
function windows(g: Gen, spatial: number[], o: { dilate: boolean; padBelowKernel: boolean }) {
  const k: number[] = [],
    s: number[] = [],
    d: number[] = [],
    pb: number[] = [],
    pe: number[] = [];
  for (const n of spatial) {
    let kk = 1 + g.pick(3),
      dd = o.dilate ? 1 + g.pick(2) : 1;
    let b = g.pick(2),
      e = g.pick(2);
    while (dd * (kk - 1) + 1 > n + b + e) {
      if (dd > 1) dd = 1;
      else kk--;
    }
    if (o.padBelowKernel) {
      b = Math.min(b, kk - 1);
      e = Math.min(e, kk - 1);
    }
    while (dd * (kk - 1) + 1 > n + b + e) kk--;
    k.push(kk);
    d.push(dd);
    s.push(1 + g.pick(2));
    pb.push(b);
    pe.push(e);
  }
  return { kernel_shape: k, strides: s, dilations: d, pads: [...pb, ...pe] };
}

const windowText = (w: { kernel_shape: number[]; strides: number[]; pads: number[]; dilations?: number[] }) =>
  `k=${fmt(w.kernel_shape)} s=${fmt(w.strides)} pads=${fmt(w.pads)}${w.dilations?.some((v) => v > 1) ? ` d=${fmt(w.dilations)}` : ""}`;

function divisors(n: number): number[] {
  return [...Array(n).keys()].map((i) => i + 1).filter((i) => n % i === 0);
}

/** The operators, each applied to the current value x. */
export const OPS: Record<string, { f32?: "only" | "never"; apply: Apply }> = {
  Identity: { apply: unary("Identity") },
  Neg: { apply: unary("Neg") },
  Add: { apply: binary("Add") },
  Sub: { apply: binary("Sub") },
  Mul: { apply: binary("Mul") },
  Div: { f32: "never", apply: binary("Div") },
  Pow: { f32: "never", apply: binary("Pow") },
  ReduceSum: { apply: (g, x) => reduce(g, x, "ReduceSum") },
  ReduceMean: { apply: (g, x) => reduce(g, x, "ReduceMean") },
  Abs: { f32: "never", apply: unary("Abs") },
  Relu: { f32: "never", apply: unary("Relu") },
  LeakyRelu: {
    f32: "never",
    apply: (g, x) => {
      const alpha = [0.2, 0.01][g.pick(2)];
      return g.op("LeakyRelu", [x], { alpha }, `alpha=${alpha}`);
    },
  },
  Sigmoid: { apply: (g, x) => g.isSmall(g.op("Sigmoid", [x])) },
  Tanh: { apply: (g, x) => g.isSmall(g.op("Tanh", [x])) },
  Exp: { apply: (g, x) => g.op("Exp", [g.tame(x)]) },
  Erf: { f32: "only", apply: unary("Erf") },
  Log: { f32: "never", apply: onPositive("Log") },
  Sqrt: { f32: "never", apply: onPositive("Sqrt") },
  Reciprocal: { f32: "never", apply: onPositive("Reciprocal") },
  Where: {
    f32: "never",
    // Where(x > c, x, other) or Where(x > c, other, x); the threshold c is not differentiated.
    apply: (g, x) => {
      const other = g.partner(x);
      const both = broadcast(x.shape as number[], other.shape as number[])!;
      const cond = g.op("Greater", [x, g.leaf(g.partnerShape(both), "normal", false)]);
      return g.op("Where", g.chance() ? [cond, other, x] : [cond, x, other]);
    },
  },
  Clip: {
    f32: "never",
    // Bounds are scalar inputs, differentiated (mostly), either of them may be absent.
    apply: (g, x) => {
      const which = g.pick(3); // 0: both, 1: min only, 2: max only
      // (offset by the input's index: two Clips never share a bound, which would be a kink)
      const bound = (vals: number[]) =>
        g.leaf([], "normal", g.pick(4) !== 0, [+(vals[g.pick(vals.length)] + 0.01 * g.inputs.length).toFixed(2)]);
      const lo = which !== 2 ? bound([-0.5, -1.2, 0.1]) : null;
      const hi = which !== 1 ? bound([0.6, 1.5, 0.3]) : null;
      return g.op("Clip", hi ? [x, lo, hi] : [x, lo]);
    },
  },
  // float32 graphs: a round trip through float64 (exact); float64 graphs: a same-type Cast.
  Cast: {
    apply: (g, x) =>
      g.dtype === "float32"
        ? g.op("Cast", [g.op("Cast", [x], { to: 11 }, "to=float64")], { to: 1 }, "to=float32")
        : g.op("Cast", [x], { to: 11 }, "to=float64"),
  },
  Expand: {
    apply: (g, x) => {
      const s = x.shape as number[];
      const filled = s.map((d) => (d === 1 ? 1 + g.pick(3) : d));
      const t = s.length < MAX_RANK && g.chance() ? [1 + g.pick(3), ...filled] : filled;
      const shape = size(t) <= MAX_SIZE ? t : (x.shape as number[]);
      return g.withInts("Expand", x, [shape], {}, `shape=${fmt(shape)}`);
    },
  },
  Softmax: { apply: (g, x) => softmax(g, x, "Softmax") },
  LogSoftmax: { apply: (g, x) => softmax(g, x, "LogSoftmax") },
  MatMul: { apply: matmul },
  Gemm: { apply: gemm },
  Conv: { f32: "only", apply: (g, x) => conv(g, x, false) },
  ConvTranspose: { f32: "only", apply: (g, x) => conv(g, x, true) },
  MaxPool: {
    f32: "never",
    apply: (g, x) => {
      x = g.spatial(x);
      const w = windows(g, (x.shape as number[]).slice(2), { dilate: false, padBelowKernel: true });
      const { dilations: _, ...attrs } = w;
      return g.op("MaxPool", [x], attrs, windowText(attrs));
    },
  },
  AveragePool: {
    f32: "only",
    apply: (g, x) => {
      x = g.spatial(x);
      const { dilations: _, ...w } = windows(g, (x.shape as number[]).slice(2), {
        dilate: false,
        padBelowKernel: true,
      });
      const cip = g.pick(2);
      return g.op("AveragePool", [x], { ...w, count_include_pad: cip }, `${windowText(w)} count_include_pad=${cip}`);
    },
  },
  GlobalAveragePool: { f32: "only", apply: (g, x) => g.op("GlobalAveragePool", [g.spatial(x)]) },
  BatchNormalization: { apply: batchNorm },
  InstanceNormalization: {
    f32: "only",
    apply: (g, x) => {
      x = g.spatial(x);
      const c = x.shape[1] as number;
      return g.op(
        "InstanceNormalization",
        [x, g.leaf([c], "positive"), g.leaf([c])],
        { epsilon: normEps(g) },
        `epsilon=${normEps(g)}`,
      );
    },
  },
  LayerNormalization: { apply: layerNorm },
  Reshape: {
    apply: (g, x) => {
      const t = factorShape(g, size(x.shape as number[]));
      const spec = g.pick(3) === 0 ? t.map((d, i) => (i === 0 ? -1 : d)) : t;
      return g.withInts("Reshape", x, [spec], {}, `shape=${fmt(spec)}`);
    },
  },
  Flatten: {
    apply: (g, x) => {
      const r = x.shape.length;
      let axis = g.pick(r + 1);
      if (axis > 0 && g.chance()) axis -= r;
      return g.op("Flatten", [x], { axis }, `axis=${axis}`);
    },
  },
  Squeeze: {
    apply: (g, x) => {
      if (!x.shape.includes(1) || x.shape.length === 1) {
        x = g.roomForAxis(x);
        const at = g.pick(x.shape.length + 1);
        x = g.withInts("Unsqueeze", x, [[at]], {}, `axes=[${at}]`);
      }
      const ones = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      let axes = ones.filter(() => g.chance());
      if (!axes.length) axes = [ones[0]];
      if (axes.length === x.shape.length) axes.pop(); // stay rank ≥ 1
      const shown = axes.map((a) => (g.chance() ? a - x.shape.length : a));
      return g.withInts("Squeeze", x, [shown], {}, `axes=${fmt(shown)}`);
    },
  },
  Unsqueeze: {
    apply: (g, x) => {
      x = g.roomForAxis(x);
      const r = x.shape.length + 1,
        at = g.pick(r);
      const axis = g.chance() ? at - r : at;
      return g.withInts("Unsqueeze", x, [[axis]], {}, `axes=[${axis}]`);
    },
  },
  Transpose: {
    apply: (g, x) => {
      if (g.pick(4) === 0) return g.op("Transpose", [x], {}, "perm=reversed");
      const perm = permutation(g, x.shape.length);
      return g.op("Transpose", [x], { perm }, `perm=${fmt(perm)}`);
    },
  },
  Slice: {
    apply: (g, x) => {
      const s = x.shape as number[];
      const axes: number[] = [],
        starts: number[] = [],
        ends: number[] = [];
      s.forEach((d, a) => {
        if (d < 2 || !g.chance()) return;
        const start = g.pick(d - 1),
          end = start + 1 + g.pick(d - start);
        const form = g.pick(3); // 0: as is, 1: counted from the end, 2: "to the end" as a huge number (clamped)
        axes.push(g.chance() ? a - s.length : a);
        starts.push(start);
        ends.push(form === 1 && end < d ? end - d : form === 2 && end === d ? 2 ** 31 : end);
      });
      if (!axes.length) {
        axes.push(0);
        starts.push(0);
        ends.push(s[0]);
      }
      return g.withInts(
        "Slice",
        x,
        [starts, ends, axes],
        {},
        `starts=${fmt(starts)} ends=${fmt(ends)} axes=${fmt(axes)}`,
      );
    },
  },
  Concat: {
    apply: (g, x) => {
      const s = x.shape as number[],
        r = s.length;
      const axis = g.pick(r);
      const fits = (v: Value) => v.shape.length === r && v.shape.every((d, i) => i === axis || d === s[i]);
      // The other parts: x again, an earlier value of fitting shape, or a new input (its extent on the axis).
      const plan: (Value | number)[] = [];
      for (let n = 1 + g.pick(2); n > 0; n--) {
        const mode = g.pick(3),
          earlier = g.values.filter(fits);
        plan.push(mode === 0 ? x : mode === 1 && earlier.length ? earlier[g.pick(earlier.length)] : 1 + g.pick(2));
      }
      const extent = (p: Value | number) => (typeof p === "number" ? p : (p.shape[axis] as number));
      if ((size(s) / s[axis]) * plan.reduce<number>((t, p) => t + extent(p), s[axis]) > MAX_SIZE) plan.length = 0; // Concat of x alone
      const parts = [x];
      for (const p of plan) {
        const part =
          typeof p === "number"
            ? g.leaf(
                s.map((d, i) => (i === axis ? p : d)),
                "normal",
                g.pick(4) !== 0,
              )
            : p;
        parts.splice(g.pick(parts.length + 1), 0, part);
      }
      const shownAxis = g.chance() ? axis - r : axis;
      return g.op("Concat", parts, { axis: shownAxis }, `axis=${shownAxis}`);
    },
  },
  Pad: {
    apply: (g, x) => {
      const r = x.shape.length;
      const pads = Array(2 * r).fill(0);
      for (let n = 1 + g.pick(2); n > 0; n--) pads[g.pick(2 * r)] = 1 + g.pick(2);
      const grown = (x.shape as number[]).map((d, i) => d + pads[i] + pads[i + r]);
      if (size(grown) > MAX_SIZE) pads.fill(0);
      const value = [0, 0.5, -1][g.pick(3)];
      return g.node(
        "Pad",
        [x],
        [g.b.ints(pads), g.b.scalar(value, x.dtype)],
        { mode: "constant" },
        `pads=${fmt(pads)} value=${value}`,
      )[0];
    },
  },
};

/** ORT's float32 normalisations lose ~|μ|·γ/√ε·2⁻²⁴ to cancellation (y = a·x + (β − a·μ)): with
 *  ε = 1e-5 and a near-constant group that swamps a float32 finite difference. */
const normEps = (g: Gen) => (g.dtype === "float32" ? 1e-2 : 1e-5);

/** A reduction over random axes, or one broadcast back against x ("x − mean(x)": a DAG in which
 *  keepdims=0 over leading axes, or all of them, gives a lower-rank or scalar operand). */
function reduce(g: Gen, x: Value, op: string): Value {
  const r = x.shape.length;
  const centre = g.pick(3) === 0;
  let keep = g.pick(2);
  let axes: number[];
  if (centre && !keep)
    axes = [...Array(1 + g.pick(r)).keys()]; // leading axes: the rest aligns right
  else {
    const mask = 1 + g.pick(2 ** r - 1);
    axes = [...Array(r).keys()].filter((a) => mask & (1 << a));
    if (!centre && !keep && axes.length === r) {
      if (r === 1) keep = 1;
      else axes = axes.slice(1);
    } // stay rank ≥ 1
  }
  axes = axes.map((a) => (g.chance() ? a - r : a));
  const red = g.withInts(op, x, [axes], { keepdims: keep }, `axes=${fmt(axes)}, keepdims=${keep}`);
  if (!centre) return red;
  const combine = ["Sub", "Add", "Mul"][g.pick(3)];
  return g.op(combine, g.chance() ? [red, x] : [x, red]);
}

function softmax(g: Gen, x: Value, op: string): Value {
  const r = x.shape.length;
  const axis = g.pick(r) - (g.chance() ? r : 0);
  return g.op(op, [x], { axis }, `axis=${axis}`);
}

/** x @ W, W @ x, or a batched W (broadcasting against x's batch dims; MatMul here is ≥ 2-D). */
function matmul(g: Gen, x: Value): Value {
  if (x.shape.length === 1) {
    const at = g.pick(2);
    x = g.withInts("Unsqueeze", x, [[at]], {}, `axes=[${at}]`);
  }
  const s = x.shape as number[],
    r = s.length;
  const n = 1 + g.pick(3);
  const mode = g.pick(3);
  if (mode === 1) return g.op("MatMul", [g.leaf([n, s[r - 2]]), x]); // [n, m] @ [..., m, k]
  const own = s.slice(0, r - 2).map((d) => (g.chance() ? 1 : d));
  const batch = mode === 2 ? (r < MAX_RANK && g.chance() ? [2, ...own] : own) : [];
  const out = size(broadcast(s.slice(0, -2), batch)!) * s[r - 2] * n;
  return g.op("MatMul", [x, g.leaf([...(out <= MAX_SIZE ? batch : []), s[r - 1], n])]); // [..., m, k] @ [b..., k, n]
}

/** Y = α op(A) op(B) + β C with x as A or B, C of any unidirectionally broadcastable shape. */
function gemm(g: Gen, x: Value): Value {
  const r = x.shape.length;
  if (r === 1) {
    const at = g.pick(2);
    x = g.withInts("Unsqueeze", x, [[at]], {}, `axes=[${at}]`);
  } else if (r > 2) {
    const axis = 1 + g.pick(r - 1);
    x = g.op("Flatten", [x], { axis }, `axis=${axis}`);
  }
  const [p, q] = x.shape as number[];
  const n = 1 + g.pick(3);
  const transA = g.pick(2),
    transB = g.pick(2),
    xIsA = g.pick(3) !== 0;
  const alpha = [1, 0.7][g.pick(2)],
    beta = [1, 1.3][g.pick(2)];
  // x as A: op(A) = [m, k]; x as B: op(B) = [k, n] with A a new [m', k]
  const m = xIsA ? (transA ? q : p) : n,
    k = xIsA ? (transA ? p : q) : transB ? q : p,
    cols = xIsA ? n : transB ? p : q;
  const A = xIsA ? x : g.leaf(transA ? [k, m] : [m, k]);
  const B = xIsA ? g.leaf(transB ? [cols, k] : [k, cols]) : x;
  const cShapes = [null, [], [cols], [1, cols], [m, 1], [m, cols]];
  const cs = cShapes[g.pick(cShapes.length)];
  const C = cs ? g.leaf(cs) : null;
  return g.node(
    "Gemm",
    C ? [A, B, C] : [A, B],
    [],
    { transA, transB, alpha, beta },
    `transA=${transA} transB=${transB} alpha=${alpha} beta=${beta}`,
  )[0];
}

function conv(g: Gen, x: Value, transposed: boolean): Value {
  x = g.spatial(x);
  const s = x.shape as number[],
    c = s[1];
  const divs = divisors(c);
  const group = divs[g.pick(divs.length)];
  const m = group * (1 + g.pick(2));
  const w = windows(g, s.slice(2), { dilate: true, padBelowKernel: false });
  const attrs: Record<string, number[] | number> = { ...w, group };
  if (transposed) {
    // output_padding < stride (ONNX allows < dilation too; ORT does not)
    attrs.output_padding = w.strides.map((st) => g.pick(st));
    // out = s(n−1) + output_padding + d(k−1) + 1 − pads must stay ≥ 1: drop the pads where not
    const nd = w.kernel_shape.length;
    s.slice(2).forEach((n, i) => {
      const out =
        w.strides[i] * (n - 1) + (attrs.output_padding as number[])[i] + w.dilations[i] * (w.kernel_shape[i] - 1) + 1;
      if (out - w.pads[i] - w.pads[i + nd] < 1) w.pads[i] = w.pads[i + nd] = 0;
    });
  }
  const W = g.leaf(transposed ? [c, m / group, ...w.kernel_shape] : [m, c / group, ...w.kernel_shape]);
  const bias = g.chance() ? g.leaf([m]) : null;
  const op = transposed ? "ConvTranspose" : "Conv";
  const shown = `${windowText(w)}${group > 1 ? ` group=${group}` : ""}${transposed ? ` output_padding=${fmt(attrs.output_padding as number[])}` : ""}`;
  return g.node(op, bias ? [x, W, bias] : [x, W], [], attrs, shown)[0];
}

/** Training mode (batch statistics) or inference mode (all five inputs differentiable). */
function batchNorm(g: Gen, x: Value): Value {
  if (x.shape.length < 2) x = g.withInts("Unsqueeze", x, [[0]], {}, "axes=[0]");
  const rank = x.shape.length,
    c = x.shape[1] as number;
  const training = g.chance();
  const wrt = () => g.pick(3) !== 0;
  const ins = [
    x,
    g.leaf([c], "positive", wrt()),
    g.leaf([c], "normal", wrt()),
    g.leaf([c], "normal", !training && wrt()),
    g.leaf([c], "positive", !training && wrt()),
  ];
  if (!training) return g.op("BatchNormalization", ins, { epsilon: 1e-3 }, "inference");
  const useStats = g.pick(3); // 0: Y only; 1, 2: Y + running mean / running var (per channel)
  const outs = g.node(
    "BatchNormalization",
    ins,
    [],
    { training_mode: 1, epsilon: normEps(g), momentum: 0.9 },
    `training_mode=1, epsilon=${normEps(g)}`,
    3,
  );
  if (!useStats) return outs[0];
  const stat = outs[useStats];
  const perChannel =
    rank > 2
      ? g.withInts(
          "Unsqueeze",
          stat,
          [[...Array(rank - 2).keys()].map((i) => i + 1)],
          {},
          `axes=${fmt([...Array(rank - 2).keys()].map((i) => i + 1))}`,
        )
      : stat;
  return g.op("Add", [outs[0], perChannel]);
}

/** LayerNormalization over axes [axis, rank); sometimes its Mean or InvStdDev output is used too
 *  (in float32 graphs only: they are float32 whatever x's type, too coarse for float64 checks). */
function layerNorm(g: Gen, x: Value): Value {
  const r = x.shape.length;
  const a = g.pick(r);
  const axis = g.chance() ? a - r : a;
  const inner = (x.shape as number[]).slice(a);
  const ins = [
    x,
    g.leaf(inner, "positive", g.pick(3) !== 0),
    g.chance() ? g.leaf(inner, "normal", g.pick(3) !== 0) : null,
  ];
  const useStats = g.dtype === "float32" ? g.pick(4) : 0; // 0, 1: Y only; 2: Y + Mean; 3: Y * InvStdDev
  const outs = g.node(
    "LayerNormalization",
    ins[2] ? ins : ins.slice(0, 2),
    [],
    { axis, epsilon: normEps(g) },
    `axis=${axis}, epsilon=${normEps(g)}`,
    useStats >= 2 ? 3 : 1,
  );
  if (useStats === 2) return g.op("Add", [outs[0], outs[1]]);
  if (useStats === 3) return g.op("Mul", [outs[0], outs[2]]);
  return outs[0];
}

// ---- specs -------------------------------------------------------------------------------------

const dtypeOf = (spec: GraphSpec) => (spec.f32 ? "float32" : "float64") as "float32" | "float64";

function run(g: Gen, spec: GraphSpec): Value {
  let x = g.leaf(spec.shape);
  for (const step of spec.steps) {
    g.start(step.r);
    x = OPS[step.op].apply(g, x);
    g.values.push(x);
  }
  return x;
}

/** The gradient case of a spec (`ops`: the forward graph's operators, helpers such as Greater
 *  included): a first build records its inputs, the checker's build replays it. */
export function toCase(spec: GraphSpec): GradCase {
  const dtype = dtypeOf(spec);
  const b = new GraphBuilder("probe");
  const g = new Gen(b, dtype);
  const y = run(g, spec);
  const label = (i: number) => `${g.inputs[i].wrt ? "x" : "c"}${i}`;
  const special = g.inputs.flatMap((inp, i) =>
    inp.values ? [`${label(i)}=${inp.values[0]}`] : inp.init === "positive" ? [`${label(i)} > 0`] : [],
  );
  const name = `${g.render(y)}${special.length ? `  {${special.join(", ")}}` : ""}`;
  return {
    name,
    dtype,
    ops: [...new Set(b.graph.nodes.map((n) => n.op))],
    inputs: g.inputs,
    build: (b2, xs) => run(new Gen(b2, dtype, xs), spec),
  };
}

/** Readable form of a spec for fast-check's report: the expression and the spec to replay. */
export function describeSpec(spec: GraphSpec): string {
  let text: string;
  try {
    text = `${toCase(spec).name} (${dtypeOf(spec)})`;
  } catch (e) {
    text = `(does not build: ${(e as Error).message})`;
  }
  return `${text}\n    spec: ${JSON.stringify(spec)}`;
}

const HOT = new Set(["Add", "Sub", "Mul", "Div", "ReduceSum", "ReduceMean"]);
const poolOf = (f32: boolean) => Object.keys(OPS).filter((op) => OPS[op].f32 !== (f32 ? "never" : "only"));
/** Reductions and broadcasting arithmetic (where lazy gradients meet broadcasting) three times as
 *  often as the rest; float32-only operators likewise in float32 graphs. */
const opArb = (f32: boolean) =>
  fc.constantFrom(
    ...poolOf(f32).flatMap((op) => Array(HOT.has(op) || (f32 && OPS[op].f32 === "only") ? 3 : 1).fill(op)),
  );
// 720 is divisible by 1..6, 8, 9, 10: choices come out near uniform
const choices = fc.array(fc.nat({ max: 719 }), { minLength: 24, maxLength: 24 });
const stepArb = (f32: boolean) => fc.record({ op: opArb(f32), r: choices });
const shapeArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 });

const printable = (s: GraphSpec): GraphSpec => ({ ...s, [fc.toStringMethod]: () => describeSpec(s) }) as GraphSpec;

const specOf = (f32: boolean, steps: fc.Arbitrary<Step[]>) =>
  fc.record({ f32: fc.constant(f32), shape: shapeArb, steps }).map(printable);

/** Chains/DAGs of 2–5 steps; one in four in float32 (with the float32-only operators). */
export const specArb: fc.Arbitrary<GraphSpec> = fc.oneof(
  { weight: 3, arbitrary: specOf(false, fc.array(stepArb(false), { minLength: 2, maxLength: 5 })) },
  { weight: 1, arbitrary: specOf(true, fc.array(stepArb(true), { minLength: 2, maxLength: 5 })) },
);

/** A 3-step composite with `op` in the middle (the deterministic complement: every rule reached). */
export function forcedArb(op: string): fc.Arbitrary<GraphSpec> {
  const f32 = OPS[op].f32 === "only";
  return specOf(
    f32,
    fc.tuple(
      stepArb(f32),
      choices.map((r) => ({ op, r })),
      stepArb(f32),
    ),
  );
}
