import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataError, embeddedMnistDir, loadDataset, loadIdxFolder, parseIdx } from "../../gpu-cluster/data/index.ts";
import { idx, writeIdxFolder } from "./idx-fixture.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "idx-test-"));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function expectDataError(fn: () => unknown, code: string, fileFragment: string, message?: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    const err = e as DataError;
    expect(err.code).toBe(code);
    expect(err.message).toContain(fileFragment);
    if (message) expect(err.message).toMatch(message);
    return;
  }
  throw new Error(`expected DataError ${code}`);
}

describe("IDX loader", () => {
  it("reads gzip-compressed folders (Fashion-MNIST as Debian ships it) exactly like plain ones", () => {
    const plain = tmp();
    const gz = tmp();
    writeIdxFolder(plain, 30, 12, 5, 7, 3, false);
    writeIdxFolder(gz, 30, 12, 5, 7, 3, true);
    const a = loadIdxFolder(plain);
    const b = loadDataset(gz); // detected automatically as an IDX folder
    expect(b.format).toBe("idx");
    expect(b.train.images).toEqual(a.train.images);
    expect(b.val.labels).toEqual(a.val.labels);
    expect([a.train.height, a.train.width, a.train.classes.length]).toEqual([5, 7, 3]);
    expect(a.train.images[3]).toBe((3 * 31 + 1) & 255);
  });

  it("names the file and the problem for a truncated image file", () => {
    const mnist = readFileSync(join(embeddedMnistDir(), "t10k-images-idx3-ubyte"));
    const cut = mnist.subarray(0, 100_000);
    expectDataError(
      () => parseIdx(cut, "t10k-images-idx3-ubyte"),
      "TRUNCATED",
      "t10k-images-idx3-ubyte",
      /7840000 bytes of data but the file holds 99984/,
    );
  });

  it("names a truncated gzip stream", () => {
    const d = tmp();
    writeIdxFolder(d, 300, 10, 8, 8, 3, true);
    const f = join(d, "train-images-idx3-ubyte.gz");
    const b = readFileSync(f);
    writeFileSync(f, b.subarray(0, b.length - 40));
    expectDataError(() => loadIdxFolder(d), "TRUNCATED", "train-images-idx3-ubyte.gz", /gzip/);
  });

  it("rejects a wrong magic, a header shorter than its rank, extra bytes and a non-byte type", () => {
    expectDataError(
      () => parseIdx(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), "x.idx"),
      "BAD_MAGIC",
      "x.idx",
    );
    expectDataError(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), "y.idx"), "TRUNCATED", "y.idx", /header/);
    expectDataError(() => parseIdx(idx([2], Uint8Array.from([1, 2, 3])), "z.idx"), "TRAILING_BYTES", "z.idx");
    const f32 = idx([1], Uint8Array.from([0, 0, 0, 0]));
    f32[2] = 0x0d;
    expectDataError(() => parseIdx(f32, "w.idx"), "BAD_HEADER", "w.idx", /float32/);
  });

  it("rejects a label file whose count differs from the image file's", () => {
    const d = tmp();
    writeIdxFolder(d, 20, 10, 4, 4, 2, false);
    writeFileSync(join(d, "t10k-labels-idx1-ubyte"), idx([9], new Uint8Array(9)));
    expectDataError(() => loadIdxFolder(d), "COUNT_MISMATCH", "t10k-labels-idx1-ubyte", /9 labels for 10 images/);
  });

  it("rejects a folder missing one of the four files, naming it", () => {
    const d = tmp();
    writeIdxFolder(d, 20, 10, 4, 4, 2, false);
    rmSync(join(d, "t10k-labels-idx1-ubyte"));
    expectDataError(() => loadDataset(d), "NOT_FOUND", d, /t10k-labels-idx1-ubyte/);
  });

  it("rejects val labels outside the train classes", () => {
    const d = tmp();
    writeIdxFolder(d, 20, 10, 4, 4, 2, false);
    writeFileSync(
      join(d, "t10k-labels-idx1-ubyte"),
      idx(
        [10],
        Uint8Array.from({ length: 10 }, (_, i) => (i === 4 ? 7 : 0)),
      ),
    );
    expectDataError(() => loadIdxFolder(d), "BAD_LABEL", "t10k-labels", /label 7 at index 4/);
  });

  it("refuses a --data folder of neither kind", () => {
    const d = tmp();
    writeFileSync(join(d, "notes.txt"), "hello");
    expectDataError(() => loadDataset(d), "UNKNOWN_LAYOUT", d, /neither an IDX folder/);
    expectDataError(() => loadDataset(join(d, "nope")), "NOT_FOUND", "nope");
  });
});
