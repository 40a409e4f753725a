// Import rules for src/, checked by `bash scripts/deps.sh` (part of `npm test`). See docs/dependencies.md for the graph.
//
// Layers, bottom to top, derived from the code (a folder may import its own files and any LOWER layer, never a
// higher one; the two folders of one layer may import each other):
//   shared:      errors.ts, progress.ts, backend/  (importable from anywhere; import only each other)
//   io           readers/writers of tensor files, atomic writes, the Inspector interface
//   linalg       least squares, metrics, bootstrap
//   lm           llama2.c model, tokenizer, training
//   activations  activation stores (built by running lm)
//   sae, train   the SAE model and its trainer share the SIMD sparse kernels (train/sparse, train/kernels)
//   darkmatter   the paper's analyses
//   family       SAE families, training on error components (uses darkmatter's decomposition)
//   viz          figure builders over darkmatter results (the guide writes pipeline → viz; in the code viz is a
//                leaf that pipeline feeds: pipeline imports its entry types and labels, viz never imports pipeline)
//   pipeline     what a notebook analyses and the claim verdicts (pipeline/claim.ts holds the Claim type)
//   publish      headline records, notebook execution, reports (runs pipeline)
//   cli          the command line; nothing else imports it
//   index.ts     the public API; nothing in src imports it
// Cycles are forbidden at module level, type-only imports included (tsPreCompilationDeps).
const LAYERS = [
  ["errors.ts", "progress.ts", "backend"],
  ["io"],
  ["linalg"],
  ["lm"],
  ["activations"],
  ["sae", "train"],
  ["darkmatter"],
  ["family"],
  ["viz"],
  ["pipeline"],
  ["publish"],
  ["cli"],
  ["index.ts"],
];
const re = (names) => `^src/(${names.map((n) => n.replace(".", "\\.")).join("|")})(/|$)`;

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join("+")}`,
  comment: `${layer.join(", ")} may import only lower layers (see the list at the top of .dependency-cruiser.cjs)`,
  severity: "error",
  from: { path: re(layer) },
  to: { path: re(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "import cycles (type-only ones too) make load order fragile and hide layering mistakes; move the shared type down",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-cli-from-library",
      comment: "library code never imports the command line (src/cli); put what both need in a lower module",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "src-not-to-test",
      comment: "the library never imports tests or benchmarks",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench)/" },
    },
    ...layerRules,
  ],
  options: {
    includeOnly: "^src/",
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
    reporterOptions: {
      mermaid: { minify: false },
    },
  },
};
