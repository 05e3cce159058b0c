// The layering of the source trees, checked on their import statements: each layer imports only
// the layers below it, so an arrow that runs the wrong way (a stage importing the CLI, the graph
// IR importing the runtime, the edge Worker importing its client) fails here, by file and line.
// Tests, benchmarks and scripts are not checked: they may reach into any layer.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const TREES = [
  "gpu-cluster",
  "shared",
  "edge/src",
  "edge/client",
  "edge/scripts",
  "wasm-tools/src",
  "wasm-tools/node",
  "wasm-tools/inspector",
  "wasm-tools/build.ts",
  "web-trainer/page",
  "web-trainer/build.ts",
];

/** Each layer and the layers it may import (itself always). A file belongs to the longest matching prefix. */
const MAY_IMPORT: Record<string, string[]> = {
  // gpu-cluster, bottom to top
  "gpu-cluster/graph": [],
  "gpu-cluster/data": [],
  "gpu-cluster/io": ["gpu-cluster/data"],
  "gpu-cluster/autodiff": ["gpu-cluster/graph"],
  "gpu-cluster/models": ["gpu-cluster/graph"],
  "gpu-cluster/runtime": ["gpu-cluster/graph"],
  "gpu-cluster/training": ["gpu-cluster/graph", "gpu-cluster/autodiff", "gpu-cluster/models", "gpu-cluster/runtime"],
  "gpu-cluster/stages": [
    "gpu-cluster/graph",
    "gpu-cluster/autodiff",
    "gpu-cluster/models",
    "gpu-cluster/runtime",
    "gpu-cluster/training",
    "gpu-cluster/data",
    "gpu-cluster/io",
    "shared",
  ],
  // training from the edge's stream: pure, run by the Node client and the browser page alike
  "gpu-cluster/stream": [
    "gpu-cluster/graph",
    "gpu-cluster/autodiff",
    "gpu-cluster/models",
    "gpu-cluster/runtime",
    "gpu-cluster/training",
    "gpu-cluster/data",
    "gpu-cluster/stages",
    "shared",
  ],
  "gpu-cluster/cli": [
    "gpu-cluster",
    "shared",
    "wasm-tools/src",
    "wasm-tools/node",
    "edge/client",
    "web-trainer/build.ts",
  ],
  // pure formats, run by the Worker, the browser page and Node alike
  shared: [],
  // the Worker and its client only meet in shared/ (the wire formats)
  "edge/src": ["shared"],
  "edge/client": ["shared"],
  "edge/scripts": ["edge/src", "edge/client", "shared"],
  // environment-neutral module wrapper; the page; Node-only loaders; the build script on top
  "wasm-tools/src": ["shared"],
  "wasm-tools/inspector": ["wasm-tools/src", "shared"],
  "wasm-tools/node": ["wasm-tools/src", "shared"],
  "wasm-tools/build.ts": ["wasm-tools/node"],
  // the browser trainer page and its bundler
  "web-trainer/page": ["gpu-cluster/stream", "gpu-cluster/runtime", "edge/client", "shared"],
  "web-trainer/build.ts": [],
};

/** Layers that run outside Node (Workers, browsers): no node: built-ins. */
const NO_NODE_BUILTINS = [
  "shared",
  "edge/src",
  "edge/client",
  "wasm-tools/src",
  "wasm-tools/inspector",
  "gpu-cluster/stream",
  "web-trainer/page",
];

/** npm packages only some files may import (longest-prefix match on the file path). */
const PACKAGE_ONLY_IN: Record<string, string[]> = {
  "onnxruntime-node": ["gpu-cluster/runtime/node-backend.ts"],
  "onnxruntime-common": ["gpu-cluster/runtime"],
  "onnxruntime-web": ["gpu-cluster/runtime"],
  "cli-progress": ["gpu-cluster/cli"],
  assemblyscript: ["wasm-tools/build.ts"],
  esbuild: ["wasm-tools/build.ts", "web-trainer/build.ts"],
};

interface Import {
  file: string;
  line: number;
  spec: string;
  /** Repo-relative path for relative imports, else null. */
  target: string | null;
}

function sourceFiles(path: string): string[] {
  const abs = join(ROOT, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs)
    .flatMap((n) => (n === "node_modules" ? [] : sourceFiles(join(path, n))))
    .filter((p) => /\.(ts|mts)$/.test(p));
}

const STATIC =
  /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\}|[\w$]+)\s+from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^\s*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

export function importsOf(file: string, text: string): Import[] {
  // comment lines may mention imports; blank them (keeping line numbers)
  const code = text
    .split("\n")
    .map((l) => (/^\s*(\/\/|\/?\*)/.test(l) ? "" : l))
    .join("\n");
  const out: Import[] = [];
  for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
    for (const m of code.matchAll(re)) {
      const spec = m[1];
      const line = code.slice(0, m.index + m[0].length).split("\n").length;
      const target = spec.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : null;
      out.push({ file, line, spec, target });
    }
  }
  return out;
}

const within = (path: string, prefix: string) => path === prefix || path.startsWith(prefix + "/");
const layerOf = (path: string) =>
  Object.keys(MAY_IMPORT)
    .filter((l) => within(path, l))
    .sort((a, b) => b.length - a.length)[0] ?? null;
const packageName = (spec: string) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");

const files = TREES.flatMap(sourceFiles);
const imports = files.flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), "utf8")));
const where = (i: Import) => `${i.file}:${i.line} imports '${i.spec}'`;

describe("layering", () => {
  it("the scan sees the imports it checks", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(imports.some((i) => i.file === "gpu-cluster/runtime/node-backend.ts" && i.spec === "onnxruntime-node")).toBe(
      true,
    );
    expect(
      imports.some(
        (i) => i.file === "gpu-cluster/stages/recover.ts" && i.target === "gpu-cluster/stages/recover-plan.ts",
      ),
    ).toBe(true);
    expect(
      importsOf(
        "x/a.ts",
        'import {\n  a,\n  b,\n} from "../y/b.ts";\nconst m = await import("./c.ts");\n// import { z } from "nope";',
      ).map((i) => `${i.line} ${i.target}`),
    ).toEqual(["4 y/b.ts", "5 x/c.ts"]);
  });

  it("every file belongs to a layer", () => {
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  it("each layer imports only itself and the layers below it", () => {
    const bad = imports.filter((i) => {
      if (!i.target) return false;
      const from = layerOf(i.file)!;
      return !within(i.target, from) && !MAY_IMPORT[from].some((l) => within(i.target!, l));
    });
    expect(
      bad.map(
        (i) =>
          `${where(i)} (${layerOf(i.file)} may import ${[layerOf(i.file), ...MAY_IMPORT[layerOf(i.file)!]].join(", ")})`,
      ),
    ).toEqual([]);
  });

  it("code that runs in Workers or browsers uses no node: built-ins", () => {
    const bad = imports.filter((i) => i.spec.startsWith("node:") && NO_NODE_BUILTINS.some((l) => within(i.file, l)));
    expect(bad.map(where)).toEqual([]);
  });

  it("ONNX Runtime only in gpu-cluster/runtime (onnxruntime-node in node-backend.ts), the compilers only in the build script, the bars only in the CLI", () => {
    const bad = imports.filter((i) => {
      if (i.target || i.spec.startsWith("node:")) return false;
      const pkg = packageName(i.spec);
      const allowed = PACKAGE_ONLY_IN[pkg] ?? (pkg.startsWith("onnxruntime") ? ["gpu-cluster/runtime"] : null);
      return allowed !== null && !allowed.some((p) => within(i.file, p));
    });
    expect(bad.map(where)).toEqual([]);
  });

  it("no import cycles", () => {
    const graph = new Map<string, string[]>(files.map((f) => [f, []]));
    for (const i of imports) if (i.target && graph.has(i.target)) graph.get(i.file)!.push(i.target);
    // Tarjan's strongly connected components: any with more than one file is a cycle
    let next = 0;
    const index = new Map<string, number>(),
      low = new Map<string, number>(),
      stack: string[] = [],
      onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v)!) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || graph.get(v)!.includes(v)) cycles.push(scc.sort());
      }
    };
    for (const f of files) if (!index.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
