// Errors of graph construction and import. They always name the node (or value) and the problem.

export class GraphError extends Error {
  constructor(
    readonly code: "UNSUPPORTED_OP" | "BAD_SHAPE" | "BAD_ATTRIBUTE" | "BAD_INPUT" | "BAD_MODEL" | "NO_GRADIENT",
    message: string,
    readonly node?: string,
  ) {
    super(node ? `${message} (node '${node}')` : message);
    this.name = "GraphError";
  }
}
