// Bundles the compiled CLI (dist/cli/main.js) with its JavaScript dependencies into one
// ES module, dist/kmpm.mjs, which bin/kmpm loads: one file of ~1.4 MB instead of ~300
// modules. It starts faster and holds less memory for as long as it runs (fewer module
// records, no comments kept as source, dependencies' unused modules left out); figures in
// docs/performance.md, "One bundle instead of ~300 modules". Whitespace and syntax are
// minified, names are not, so stack traces in the logs stay readable. better-sqlite3 stays
// outside: a native addon, loaded from node_modules as before.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/kmpm.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies (commander, pino) call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
