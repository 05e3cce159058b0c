// Students trained in a run, kept by what they were trained from: the images, the soft labels'
// records, the crop schedule and the student recipe. The recover gate trains a full student on
// each candidate set; the kept set's student is ours and the random set's is baseline (b), so
// evaluate and the baselines score those instead of training the same student again. Keys are
// content hashes, so a stale entry can never match: a different teacher, set, table or recipe
// gives a different key. A second, cheaper key names what the labels were made from (teacher,
// normalisation, images, relabel settings), so a rerun finds its students without relabelling.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decodeHeader, recordsStart } from "../../shared/label-table/index.ts";
import type { CropScheduleParams } from "../../shared/crop-schedule/index.ts";
import type { ChannelStats } from "../data/index.ts";
import type { Graph } from "../graph/graph.ts";
import { serializeModel } from "../graph/onnx-serialize.ts";
import type { ImageSet } from "../stages/crops.ts";
import type { RelabelConfig } from "../stages/relabel.ts";
import type { StudentConfig } from "../stages/evaluate.ts";
import type { CheckpointStore } from "../stages/train-classifier.ts";
import { writeFileAtomic } from "../io/atomic-write.ts";
import { canonicalJson, sha256 } from "./run-folder.ts";

export interface StudentRecipe {
  student: StudentConfig;
  epochs: number;
  labelEpochs: number;
  temperature: number;
  schedule: CropScheduleParams;
}

/** The key of a student trained on `set` with the soft labels of `table` under `recipe`. */
export function studentKey(set: ImageSet, table: Uint8Array, recipe: StudentRecipe): string {
  const header = decodeHeader(table);
  // the run id names the table, not its labels: (b)'s table and the gate's hold the same records
  const { runId: _name, recordsCrc: _crc, ...fields } = header;
  return sha256(
    canonicalJson({
      recipe,
      images: [set.count, set.channels, set.size, sha256(pixelBytes(set))],
      labels: [fields, sha256(table.subarray(recordsStart(header)))],
    }),
  ).slice(0, 32);
}

/** The key of a student trained on `set` with the images' own classes as hard labels under `recipe`. */
export function hardLabelStudentKey(set: ImageSet, labels: ArrayLike<number>, recipe: StudentRecipe): string {
  // a student on hard labels throughout reads no table: the label budget, the temperature and a
  // hard-label phase (a soft-labelled student's) leave it the same student
  const { hardPhase: _, ...student } = recipe.student;
  const { labelEpochs: _e, temperature: _t, ...rest } = recipe;
  return sha256(
    canonicalJson({
      recipe: { ...rest, student },
      images: [set.count, set.channels, set.size, sha256(pixelBytes(set))],
      hard: Array.from(labels),
    }),
  ).slice(0, 32);
}

/** What a student's labels are made from, besides its recipe: the relabel call's inputs. */
export interface LabelSource {
  teacher: Uint8Array;
  stats: ChannelStats;
  classes: number;
  relabel: RelabelConfig;
}

/**
 * The key of a student trained on `set` with the labels `source` gives (the run id names the
 * table, not its labels). Relabel is deterministic in these inputs (up to the last bits an
 * execution provider may change), so this key stands in for studentKey without computing the table.
 */
export function labelSourceKey(set: ImageSet, source: LabelSource, recipe: StudentRecipe): string {
  const { runId: _name, ...relabel } = source.relabel;
  return sha256(
    canonicalJson({
      recipe,
      images: [set.count, set.channels, set.size, sha256(pixelBytes(set))],
      teacher: sha256(source.teacher),
      stats: source.stats,
      classes: source.classes,
      relabel,
    }),
  ).slice(0, 32);
}

/** The set's pixels as bytes (for hashing). */
export function pixelBytes(set: ImageSet): Uint8Array {
  return new Uint8Array(set.pixels.buffer, set.pixels.byteOffset, set.pixels.byteLength);
}

export class StudentCache {
  /** `checkpointSeconds`: the least time between two saves of a student's training state. */
  constructor(
    readonly dir: string,
    readonly checkpointSeconds = 60,
  ) {}

  private file(key: string): string {
    return join(this.dir, `${key}.onnx`);
  }

  private checkpointFile(key: string): string {
    return join(this.dir, `${key}.ckpt`);
  }

  /** The frozen student's ONNX bytes, or undefined if none was trained from this key. */
  get(key: string): Uint8Array | undefined {
    const f = this.file(key);
    return existsSync(f) ? new Uint8Array(readFileSync(f)) : undefined;
  }

  /** The student a label-source key was recorded for (its key and ONNX bytes), if both are still here. */
  bySource(sourceKey: string): { key: string; onnx: Uint8Array } | undefined {
    const f = join(this.dir, `${sourceKey}.source`);
    if (!existsSync(f)) return undefined;
    const key = readFileSync(f, "utf8").trim();
    const onnx = this.get(key);
    return onnx && { key, onnx };
  }

  /** Records that the labels of `sourceKey` gave the student `key`. */
  recordSource(sourceKey: string, key: string): void {
    writeFileAtomic(join(this.dir, `${sourceKey}.source`), key);
  }

  /** Writes the frozen student (its training's checkpoint is no longer needed); its ONNX bytes. */
  put(key: string, graph: Graph): Uint8Array {
    const onnx = serializeModel(graph, { docString: `distill student ${key}` });
    writeFileAtomic(this.file(key), onnx);
    this.clearCheckpoint(key);
    return onnx;
  }

  /**
   * Where the training of student `key` saves its state, at most once every checkpointSeconds,
   * and goes on from after a stop (a session's end, a killed job): `key`.ckpt beside the students.
   * A full student at IPC 1 trains for a quarter of an hour; a stop no longer loses it.
   * `onResume` hears of the file when the training finds one to go on from.
   */
  checkpoints(key: string, onResume: (file: string) => void): CheckpointStore {
    const name = this.checkpointFile(key);
    return {
      name,
      identity: { student: key },
      everySeconds: this.checkpointSeconds,
      read: () => {
        if (!existsSync(name)) return undefined;
        onResume(name);
        return new Uint8Array(readFileSync(name));
      },
      save: (bytes) => writeFileAtomic(name, bytes),
    };
  }

  /** Drops student `key`'s checkpoint (evaluate keeps no student, only its score). */
  clearCheckpoint(key: string): void {
    rmSync(this.checkpointFile(key), { force: true });
  }
}
