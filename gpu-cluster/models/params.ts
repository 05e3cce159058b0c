// Named parameter and buffer values of a model (torchvision-style names such as
// "layer1.0.bn1.running_mean"), kept on the host between graph builds: the same store feeds
// a training graph (as state) and an exported inference graph (as initializers).
import type { TensorData } from "../graph/types.ts";
import { hashString, initTensor, type Init } from "./init.ts";

export type ParamKind = "weight" | "buffer";

export class ParamStore {
  readonly values = new Map<string, TensorData>();
  readonly kinds = new Map<string, ParamKind>();

  /** With `strict`, asking for a parameter the store lacks is an error (loaded weights must be complete). */
  constructor(
    readonly seed = 0,
    readonly strict = false,
  ) {}

  /** The value of `name`, created with `init` on first use. */
  get(name: string, shape: number[], init: Init, kind: ParamKind): TensorData {
    let v = this.values.get(name);
    if (!v) {
      if (this.strict)
        throw new Error(
          `parameter '${name}' (shape [${shape}]) is missing from the loaded weights: the file was not written for this architecture`,
        );
      v = initTensor(shape, init, hashString(name, this.seed));
      this.values.set(name, v);
      this.kinds.set(name, kind);
    } else if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`parameter '${name}' has shape [${v.shape}] but the model asks for [${shape}]`);
    }
    return v;
  }

  set(name: string, value: TensorData): void {
    const old = this.values.get(name);
    if (old && old.data.length !== value.data.length)
      throw new Error(`parameter '${name}': size ${value.data.length} != ${old.data.length}`);
    this.values.set(name, value);
  }

  names(kind?: ParamKind): string[] {
    return [...this.values.keys()].filter((n) => !kind || this.kinds.get(n) === kind);
  }

  count(kind: ParamKind = "weight"): number {
    return this.names(kind).reduce((s, n) => s + this.values.get(n)!.data.length, 0);
  }
}
