// The graph: an append-only list of nodes in topological order, its inputs, outputs and
// initializers (constant tensors stored in the model, such as frozen weights).
import type { DType, Node, Shape, TensorData, Value } from "./types.ts";
import { GraphError } from "./errors.ts";

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<Value, TensorData>();
  private readonly byName = new Map<string, Value>();
  private nextId = 0;

  constructor(public name: string) {}

  /** Creates a value with a name unique in this graph (a suffix is added on collision). */
  newValue(name: string, dtype: DType, shape: Shape): Value {
    let unique = name;
    for (let i = 1; this.byName.has(unique); i++) unique = `${name}_${i}`;
    const v: Value = { id: this.nextId++, name: unique, dtype, shape: [...shape] };
    this.byName.set(unique, v);
    return v;
  }

  value(name: string): Value {
    const v = this.byName.get(name);
    if (!v) throw new GraphError("BAD_INPUT", `no value named '${name}' in graph '${this.name}'`);
    return v;
  }

  hasValue(name: string): boolean {
    return this.byName.has(name);
  }

  /** Nodes needed to compute `targets` (in topological order); dead branches are left out. */
  liveNodes(targets: readonly Value[] = this.outputs): Node[] {
    const live = new Set<Node>();
    const stack = targets.map((t) => t.producer).filter((n): n is Node => !!n);
    while (stack.length) {
      const n = stack.pop()!;
      if (live.has(n)) continue;
      live.add(n);
      for (const i of n.inputs) if (i?.producer && !live.has(i.producer)) stack.push(i.producer);
    }
    return this.nodes.filter((n) => live.has(n));
  }
}
