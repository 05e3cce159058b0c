import { describe, expect, it } from "vitest";
import { recoverPlan } from "../../gpu-cluster/stages/recover-plan.ts";

describe("recover batch plan", () => {
  it.each([
    [10, 10, 100],
    [10, 50, 100],
    [10, 1, 100],
    [1000, 2, 100],
    [7, 3, 5],
    [3, 4, 10],
  ])("%i classes × IPC %i, batch %i: every image once, class-balanced batches", (K, ipc, batch) => {
    const plan = recoverPlan(K, ipc, batch);
    const seen = plan.flatMap((b) => b.images).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: K * ipc }, (_, i) => i));
    for (const b of plan) {
      expect(b.images.length).toBeLessThanOrEqual(Math.max(batch, 1));
      b.images.forEach((img, j) => expect(Math.floor(img / ipc)).toBe(b.classes[j]));
      // Within a batch each class appears equally often (balanced statistics).
      const counts = new Map<number, number>();
      for (const c of b.classes) counts.set(c, (counts.get(c) ?? 0) + 1);
      expect(new Set(counts.values()).size).toBe(1);
    }
  });

  it("rejects empty plans with a clear message", () => {
    expect(() => recoverPlan(0, 1, 10)).toThrow(/classes, ipc and batch/);
  });
});
