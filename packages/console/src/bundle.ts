// Bundles the console (src/web, Preact and uPlot) into dist/public with esbuild, after
// `tsc -b` has type-checked it: assets/ holds content-hashed files, so that the server may
// let browsers cache them for good, and index.html (never cached) names them.
// Run as `node packages/console/dist/bundle.js` (the root `build` and `prepare` do).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/web/main.tsx', import.meta.url));
const out = fileURLToPath(new URL('./public/', import.meta.url));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [src],
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: `${out}assets`,
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((n) => n.endsWith('.js'));
const css = outputs.find((n) => n.endsWith('.css'));
if (!js) throw new Error('esbuild produced no script');
writeFileSync(`${out}index.html`, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tally console</title>
${css ? `<link rel="stylesheet" href="assets/${css}">\n` : ''}<script type="module" src="assets/${js}"></script>
</head>
<body>
<div id="app"><p>Loading the Tally console…</p></div>
<noscript>The Tally console needs JavaScript.</noscript>
</body>
</html>
`);
process.stdout.write(`console bundled: ${outputs.join(', ')}\n`);
