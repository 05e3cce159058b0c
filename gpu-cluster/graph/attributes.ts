// Typed reading of a node's attributes, with defaults. Shape rules and gradient rules both read
// attributes this way; a wrong kind is an error that names the node.
import type { Attr, Attrs } from "./types.ts";
import { GraphError } from "./errors.ts";

export class NodeAttributes {
  constructor(
    readonly op: string,
    readonly node: string,
    readonly attrs: Attrs,
  ) {}

  int(name: string, dflt: number): number {
    const a = this.attrs[name];
    return a ? (this.expect(a, "int", name) as number) : dflt;
  }

  ints(name: string, dflt: number[]): number[] {
    const a = this.attrs[name];
    return a ? (this.expect(a, "ints", name) as number[]) : dflt;
  }

  float(name: string, dflt: number): number {
    const a = this.attrs[name];
    return a ? (this.expect(a, "float", name) as number) : dflt;
  }

  string(name: string, dflt: string): string {
    const a = this.attrs[name];
    return a ? (this.expect(a, "string", name) as string) : dflt;
  }

  /** An error about this node, prefixed with its op and carrying its name. */
  error(code: "BAD_SHAPE" | "BAD_ATTRIBUTE" | "BAD_INPUT", message: string): GraphError {
    return new GraphError(code, `${this.op}: ${message}`, this.node);
  }

  private expect(a: Attr, kind: Attr["kind"], name: string): unknown {
    // Imported models sometimes store an int attribute as float or vice versa; accept both.
    if (a.kind === kind) return a.value;
    if ((kind === "int" && a.kind === "float") || (kind === "float" && a.kind === "int")) return a.value;
    if (kind === "ints" && a.kind === "floats") return a.value;
    throw this.error("BAD_ATTRIBUTE", `attribute '${name}' should be ${kind}, got ${a.kind}`);
  }
}
