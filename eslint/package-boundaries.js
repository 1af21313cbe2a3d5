import { dirname, join, relative, resolve, sep } from "node:path";

/**
 * The folder dependency rule the README states, as an ESLint rule: each package (a top-level folder)
 * may import only the packages `allow` names for it, and another package only through its `index.ts`
 * face. Import paths are resolved against the importing file, so `../../agent/x.ts` and a dynamic
 * `import()` are judged by where they land, not by how they are spelled. Files outside the packages
 * (tests, benchmarks, scripts) are not judged.
 *
 * Options: { root, packages: { [package]: [packages it may import] }, faces: { [package]: [files besides
 * index.ts that are faces too, e.g. an entry that loads a heavy dependency only for the one caller that needs it] } }.
 */
export const packageBoundaries = {
  meta: {
    type: "problem",
    docs: { description: "each package imports only the packages it may, and only through their index.ts" },
    schema: [
      {
        type: "object",
        properties: {
          root: { type: "string" },
          packages: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
          faces: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
        },
        required: ["root", "packages"],
        additionalProperties: false,
      },
    ],
    messages: {
      forbidden: "{{from}}/ may import {{allowed}}, not {{to}}/ (the package dependencies in docs/architecture.md).",
      deep: "Import {{to}}/ through its face, {{to}}/index.ts, not {{path}}: what is not exported there is its own business.",
    },
  },
  create(context) {
    const { root, packages, faces = {} } = context.options[0];
    const isFace = (to, target) => {
      const rel = relative(join(root, to), target);
      return rel === "index.ts" || (faces[to] ?? []).includes(rel);
    };
    const packageOf = (path) => {
      const rel = relative(root, path);
      if (rel.startsWith("..") || rel === "") return undefined;
      const top = rel.split(sep)[0];
      return Object.hasOwn(packages, top) ? top : undefined;
    };
    const from = packageOf(context.filename);
    if (from === undefined) return {};
    const check = (node) => {
      const source = node?.type === "Literal" && typeof node.value === "string" ? node.value : undefined;
      if (source === undefined || !source.startsWith(".")) return;
      const target = resolve(dirname(context.filename), source);
      const to = packageOf(target);
      if (to === undefined || to === from) return;
      if (!packages[from].includes(to)) {
        const allowed = packages[from].length > 0 ? packages[from].map((p) => `${p}/`).join(", ") : "no other package";
        context.report({ node, messageId: "forbidden", data: { from, to, allowed } });
      } else if (!isFace(to, target)) {
        context.report({ node, messageId: "deep", data: { to, path: relative(root, target) } });
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};
