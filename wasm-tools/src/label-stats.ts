// Typed wrapper of the label-stats WebAssembly module (wasm-tools/assembly/). Environment
// neutral: it takes the compiled module or its bytes, so the same code runs in Node (see
// node.ts), a browser page and a Worker. One instance per inspection: the module keeps its
// accumulators in globals.
import { batchOrder } from "../../shared/crop-schedule/index.ts";
import { HEADER_BYTES, LabelTableError, type LabelTableHeader } from "../../shared/label-table/index.ts";
import { moduleError } from "./errors.ts";
import { finishStats, ipcOf, type InspectOptions, type LabelStats } from "./types.ts";

interface Exports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  crc32(p: number, len: number, seed: number): number;
  parseHeader(p: number, len: number): number;
  checkSize(size: number): number;
  checkCrcTable(p: number): number;
  begin(bins: number, confusion: number): number;
  setPosition(epochRel: number, slot: number, crop: number): number;
  records(p: number, count: number): number;
  headerField(i: number): number;
  buffer(i: number): number;
  total(i: number): number;
  error(i: number): number;
}

export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView;

/** CRC-32 (IEEE) of bytes continuing from seed, as zlib's crc32: Node's native one is ~3× the module's. */
export type Crc32 = (bytes: Uint8Array, seed: number) => number;

export interface LoadOptions {
  /** Epoch checksums by this function instead of the module's own (node/load.ts passes node:zlib's when there is one). */
  crc32?: Crc32;
}

/** Bytes copied into the module per call. */
const CHUNK_BYTES = 1 << 22;
/** Target class of a slot when images per class is unknown. */
const NO_TARGET = 0xffff;
const BUF_TARGETS = 0,
  BUF_CLASS_CROPS = 1,
  BUF_CLASS_AGREE = 2,
  BUF_CONFUSION = 3,
  BUF_ENTROPY = 4,
  BUF_MAXPROB = 5,
  BUF_MASS = 6,
  BUF_CONFUSION_LOW = 7;

export class LabelStatsModule {
  private constructor(
    readonly module: WebAssembly.Module,
    private readonly o: LoadOptions,
  ) {}

  /** From a compiled module or the .wasm bytes (browser: fetch(url).then(r => r.arrayBuffer())). */
  static async load(source: WasmSource, o: LoadOptions = {}): Promise<LabelStatsModule> {
    return new LabelStatsModule(
      source instanceof WebAssembly.Module ? source : await WebAssembly.compile(toBytes(source)),
      o,
    );
  }

  /** Synchronous variant (Node, Workers; browsers allow it for small modules like this one). */
  static loadSync(source: WasmSource, o: LoadOptions = {}): LabelStatsModule {
    return new LabelStatsModule(
      source instanceof WebAssembly.Module ? source : new WebAssembly.Module(toBytes(source)),
      o,
    );
  }

  /** Whole table in memory: every check of SPEC.md, then the statistics of all records. */
  inspect(bytes: Uint8Array, o: InspectOptions = {}): LabelStats {
    const s = this.stream(o, bytes.length);
    s.push(bytes);
    return s.finish();
  }

  /** A table arriving in chunks, in file order (fetch body, file stream); size if known checks TRUNCATED/TRAILING_BYTES up front. */
  stream(o: InspectOptions = {}, size?: number): TableStream {
    return new TableStream(new Session(this.module, o, this.o.crc32), size);
  }

  /** Statistics over arbitrary record-aligned byte ranges of a table (e.g. batchRange reads); no CRC checks. */
  ranges(headerBytes: Uint8Array, o: InspectOptions = {}): RangeStats {
    const session = new Session(this.module, o, this.o.crc32);
    session.readHeader(headerBytes);
    session.start();
    return new RangeStats(session);
  }
}

function toBytes(source: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return new Uint8Array(source.buffer as ArrayBuffer, source.byteOffset, source.byteLength);
}

/** One module instance and its accumulators. */
class Session {
  readonly x: Exports;
  header!: LabelTableHeader;
  ipc: number | null = null;
  private input = 0;
  private inputBytes = 0;
  private targetEpoch = -1;

  constructor(
    module: WebAssembly.Module,
    readonly o: InspectOptions,
    readonly crc32?: Crc32,
  ) {
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort: () => {
          throw new Error("label-stats module aborted (out of memory?)");
        },
      },
    });
    this.x = instance.exports as unknown as Exports;
  }

  check(code: number): void {
    if (code !== 0) {
      const e = this.x.error.bind(this.x);
      throw moduleError(code, e(1), e(2), e(3), e(4));
    }
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  /** Copies bytes into module memory (a reused buffer) and returns their address. */
  place(b: Uint8Array): number {
    if (b.length > this.inputBytes) {
      this.inputBytes = Math.max(b.length, CHUNK_BYTES);
      this.input = this.x.alloc(this.inputBytes);
    }
    this.bytes().set(b, this.input);
    return this.input;
  }

  readHeader(b: Uint8Array): void {
    this.check(this.x.parseHeader(this.place(b.subarray(0, HEADER_BYTES)), Math.min(b.length, HEADER_BYTES)));
    const f = (i: number) => this.x.headerField(i);
    let runId = "";
    for (let i = 40; i < 56 && b[i] !== 0; i++) runId += String.fromCharCode(b[i]);
    this.header = {
      version: 1,
      flags: f(0),
      classes: f(1),
      images: f(2),
      epochs: f(3),
      epochStart: f(4),
      epochCount: f(5),
      cropsPerImage: f(6),
      k: f(7),
      quant: f(8),
      recordSize: f(9),
      seed: f(10) >>> 0,
      runId,
      recordsCrc: f(11) >>> 0,
    };
  }

  /** After the size checks: target classes need ipc; allocates the module's accumulators. */
  start(): void {
    const h = this.header;
    this.ipc = ipcOf(h, this.o.ipc);
    this.check(this.x.begin(this.o.bins ?? 20, this.o.confusion === false ? 0 : 1));
  }

  /** Writes the target class of every slot of `epoch` (absolute) into the module. */
  targets(epoch: number): void {
    if (epoch === this.targetEpoch) return;
    const h = this.header;
    const order =
      this.ipc === null ? new Uint32Array(0) : this.o.order ? this.o.order(epoch) : batchOrder(h.seed, epoch, h.images);
    const t = new Uint16Array(this.x.memory.buffer, this.x.buffer(BUF_TARGETS), h.images);
    const ipc = this.ipc;
    if (ipc === null) t.fill(NO_TARGET);
    else for (let s = 0; s < h.images; s++) t[s] = Math.floor(order[s] / ipc);
    this.targetEpoch = epoch;
  }

  /** Statistics of `count` whole records at module address p, from (epochRel, slot, crop). */
  records(p: number, count: number): number {
    return this.x.records(p, count);
  }

  result(): LabelStats {
    const x = this.x;
    const h = this.header;
    const u32 = (i: number, n: number) => new Uint32Array(x.memory.buffer, x.buffer(i), n).slice();
    const bins = x.total(5);
    const classAgree = u32(BUF_CLASS_AGREE, h.classes);
    const confusion = x.buffer(BUF_CONFUSION) ? u32(BUF_CONFUSION, h.classes * h.classes) : null;
    // the module keeps off-diagonal cells as (u32 multiple of 256) + (u8 low byte); the diagonal is the per-class agreement
    if (confusion) {
      const low = new Uint8Array(x.memory.buffer, x.buffer(BUF_CONFUSION_LOW), confusion.length);
      for (let i = 0; i < confusion.length; i++) confusion[i] += low[i];
      for (let c = 0; c < h.classes; c++) confusion[c * h.classes + c] += classAgree[c];
    }
    return finishStats(
      h,
      this.ipc,
      bins,
      Math.log(h.classes),
      { crops: x.total(0), agree: x.total(1), sumEntropy: x.total(2), sumMaxProb: x.total(3), sumMass: x.total(4) },
      { entropy: u32(BUF_ENTROPY, bins), maxProb: u32(BUF_MAXPROB, bins), mass: u32(BUF_MASS, bins) },
      u32(BUF_CLASS_CROPS, h.classes),
      classAgree,
      confusion,
    );
  }
}

/** Sequential reading of a whole table: header, CRC table, then each epoch's records with its CRC. */
export class TableStream {
  private head: Uint8Array = new Uint8Array(0);
  private crcTable: Uint32Array | null = null;
  private carry: Uint8Array = new Uint8Array(0);
  /** Records of the current epoch consumed, epoch index (relative), running CRC. */
  private done = 0;
  private epoch = 0;
  private crc = 0;
  private pending: LabelTableError | null = null;
  private received = 0;

  constructor(
    private readonly s: Session,
    private readonly size?: number,
  ) {}

  get header(): LabelTableHeader | undefined {
    return this.crcTable ? this.s.header : undefined;
  }

  push(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (!this.crcTable) {
      const need = HEADER_BYTES;
      this.head = concat(this.head, chunk);
      if (this.head.length < need) return;
      if (!this.s.header) {
        this.s.readHeader(this.head);
        if (this.size !== undefined) this.s.check(this.s.x.checkSize(this.size));
      }
      const start = HEADER_BYTES + 4 * this.s.header.epochCount;
      if (this.head.length < start) return;
      const p = this.s.place(this.head.subarray(HEADER_BYTES, start));
      this.s.check(this.s.x.checkCrcTable(p));
      this.crcTable = new Uint32Array(this.s.header.epochCount);
      const v = new DataView(this.head.buffer, this.head.byteOffset + HEADER_BYTES, 4 * this.s.header.epochCount);
      for (let e = 0; e < this.crcTable.length; e++) this.crcTable[e] = v.getUint32(4 * e, true);
      chunk = this.head.subarray(start);
      this.head = new Uint8Array(0);
      this.s.start();
      this.s.targets(this.s.header.epochStart);
    }
    this.feed(chunk);
  }

  private feed(chunk: Uint8Array): void {
    const h = this.s.header;
    const rs = h.recordSize;
    const perEpoch = h.images * h.cropsPerImage;
    let data = this.carry.length ? concat(this.carry, chunk) : chunk;
    while (data.length > 0) {
      if (this.epoch >= h.epochCount) {
        throw new LabelTableError(
          "TRAILING_BYTES",
          `${data.length}${this.size === undefined ? " or more" : ""} bytes after the last record`,
        );
      }
      if (data.length < rs) break;
      const n = Math.min(Math.floor(Math.min(data.length, CHUNK_BYTES) / rs), perEpoch - this.done);
      const bytes = data.subarray(0, n * rs);
      const p = this.s.place(bytes);
      this.crc = (this.s.crc32 ? this.s.crc32(bytes, this.crc) : this.s.x.crc32(p, bytes.length, this.crc)) >>> 0;
      if (!this.pending) {
        const code = this.s.records(p, n);
        if (code !== 0) {
          try {
            this.s.check(code);
          } catch (e) {
            this.pending = e as LabelTableError;
          }
        }
      }
      this.done += n;
      data = data.subarray(n * rs);
      if (this.done === perEpoch) this.endEpoch();
    }
    this.carry = data.slice();
  }

  private endEpoch(): void {
    const h = this.s.header;
    if (this.crc !== this.crcTable![this.epoch]) {
      throw new LabelTableError(
        "EPOCH_CHECKSUM",
        `the records of epoch ${h.epochStart + this.epoch} do not match their CRC-32`,
      );
    }
    if (this.pending) throw this.pending;
    this.epoch++;
    this.done = 0;
    this.crc = 0;
    if (this.epoch < h.epochCount) {
      this.s.targets(h.epochStart + this.epoch);
      this.s.check(this.s.x.setPosition(this.epoch, 0, 0));
    }
  }

  finish(): LabelStats {
    if (!this.crcTable) {
      if (this.head.length < HEADER_BYTES)
        throw new LabelTableError(
          "TRUNCATED",
          `${this.head.length} bytes, shorter than the ${HEADER_BYTES}-byte header`,
        );
      throw new LabelTableError("TRUNCATED", `the file ends inside the epoch CRC table`);
    }
    if (this.epoch < this.s.header.epochCount || this.carry.length) {
      throw new LabelTableError(
        "TRUNCATED",
        `the file ends ${this.epoch < this.s.header.epochCount ? `in epoch ${this.s.header.epochStart + this.epoch}` : "after a partial record"} (${this.received} bytes received)`,
      );
    }
    return this.s.result();
  }
}

/** Statistics over record-aligned byte ranges (any order, any epochs); records are validated, CRCs are not. */
export class RangeStats {
  constructor(private readonly s: Session) {}

  get header(): LabelTableHeader {
    return this.s.header;
  }

  /** `bytes` starts at file offset `offset`, on a record boundary (e.g. batchRange(...).offset). */
  add(offset: number, bytes: Uint8Array): void {
    const h = this.s.header;
    const rs = h.recordSize;
    const start = HEADER_BYTES + 4 * h.epochCount;
    const perEpoch = h.images * h.cropsPerImage;
    const rel = offset - start;
    if (!(Number.isInteger(offset) && rel >= 0 && rel % rs === 0 && bytes.length % rs === 0)) {
      throw new LabelTableError(
        "OUT_OF_RANGE",
        `range [${offset}, ${offset + bytes.length}) is not made of whole records (records start at ${start}, ${rs} bytes each)`,
      );
    }
    let index = rel / rs;
    if (index + bytes.length / rs > perEpoch * h.epochCount)
      throw new LabelTableError(
        "OUT_OF_RANGE",
        `range [${offset}, ${offset + bytes.length}) runs past the last record`,
      );
    let data = bytes;
    while (data.length > 0) {
      const e = Math.floor(index / perEpoch);
      const inEpoch = index - e * perEpoch;
      const n = Math.min(Math.floor(Math.min(data.length, CHUNK_BYTES) / rs), perEpoch - inEpoch);
      this.s.targets(h.epochStart + e);
      this.s.check(this.s.x.setPosition(e, Math.floor(inEpoch / h.cropsPerImage), inEpoch % h.cropsPerImage));
      const p = this.s.place(data.subarray(0, n * rs));
      this.s.check(this.s.records(p, n));
      index += n;
      data = data.subarray(n * rs);
    }
  }

  finish(): LabelStats {
    return this.s.result();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
