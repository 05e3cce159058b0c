// A small least-recently-used map, bounded by a cost (entries or bytes), for per-isolate caches
// of immutable objects (manifests, shard headers, decoded images, batch orders).
export class BoundedCache<K, V> {
  private readonly map = new Map<K, { value: V; cost: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly costOf: (v: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const cost = this.costOf(value);
    if (cost > this.capacity) return;
    this.map.set(key, { value, cost });
    this.total += cost;
    for (const [k, e] of this.map) {
      if (this.total <= this.capacity) break;
      this.map.delete(k);
      this.total -= e.cost;
    }
  }

  delete(key: K): void {
    const e = this.map.get(key);
    if (e) {
      this.map.delete(key);
      this.total -= e.cost;
    }
  }
}
