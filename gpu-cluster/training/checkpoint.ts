// A training's checkpoint: what it is a checkpoint of (an identity the trainer chooses: a stream
// trainer's run, student, epochs and crop source; a student's cache key), the step it stopped
// after, its losses so far and every state tensor of the training program (weights, AdamW moments,
// BN running statistics). Layout: "DCK1", u32 JSON length, the JSON (identity, step, losses,
// tensor names/shapes), padding to 4 bytes, then each tensor's float32 data in order. Pure: the
// Node client and the run's student cache write it to a file (atomically), a page could keep it.
import type { TensorData } from "../graph/types.ts";

const MAGIC = "DCK1";

/** What a checkpoint is of: every field must match for it to be restored. */
export type CheckpointIdentity = Record<string, unknown>;

export interface Checkpoint {
  identity: CheckpointIdentity;
  /** Steps done. */
  step: number;
  epochLosses: number[];
  epochSum: number;
  state: { name: string; value: TensorData }[];
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  for (const s of c.state)
    if (s.value.dtype !== "float32")
      throw new CheckpointError(`state '${s.name}' is ${s.value.dtype}; checkpoints hold float32 state only`);
  const meta = {
    identity: c.identity,
    step: c.step,
    epochLosses: c.epochLosses,
    epochSum: c.epochSum,
    tensors: c.state.map((s) => ({ name: s.name, shape: s.value.shape })),
  };
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const head = 8 + json.length + ((4 - (json.length % 4)) % 4);
  const floats = c.state.reduce((n, s) => n + s.value.data.length, 0);
  const out = new Uint8Array(head + 4 * floats);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  const data = new Float32Array(out.buffer, head, floats);
  let at = 0;
  for (const s of c.state) {
    data.set(s.value.data as Float32Array, at);
    at += s.value.data.length;
  }
  return out;
}

/** Decodes a checkpoint and checks it belongs to `expected` (else: which field differs, and what to do). */
export function decodeCheckpoint(bytes: Uint8Array, expected: CheckpointIdentity): Checkpoint {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC)
    throw new CheckpointError("not a distill checkpoint (no DCK1 magic): delete it to start over");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(4, true);
  if (8 + len > bytes.length) throw new CheckpointError("the checkpoint is truncated: delete it to start over");
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Omit<Checkpoint, "state"> & {
    tensors: { name: string; shape: number[] }[];
  };
  for (const key of Object.keys(expected)) {
    const a = JSON.stringify(meta.identity[key]);
    const b = JSON.stringify(expected[key]);
    if (a !== b)
      throw new CheckpointError(
        `the checkpoint is of another training (${key}: ${a} there, ${b} now): delete it, or pass the options it was made with`,
      );
  }
  const head = 8 + len + ((4 - (len % 4)) % 4);
  const floats = meta.tensors.reduce((n, t) => n + t.shape.reduce((a, d) => a * d, 1), 0);
  if (bytes.length !== head + 4 * floats)
    throw new CheckpointError(
      `the checkpoint has ${bytes.length} bytes, its header describes ${head + 4 * floats}: delete it to start over`,
    );
  // Copied out: the caller's buffer may be reused, and Float32Array needs 4-byte alignment.
  const data = new Float32Array(bytes.slice(head).buffer);
  let at = 0;
  const state = meta.tensors.map((t) => {
    const n = t.shape.reduce((a, d) => a * d, 1);
    const value: TensorData = { dtype: "float32", shape: t.shape, data: data.slice(at, at + n) };
    at += n;
    return { name: t.name, value };
  });
  return { identity: meta.identity, step: meta.step, epochLosses: meta.epochLosses, epochSum: meta.epochSum, state };
}
