// Bundles the extension client into one file, dist/extension.js.
//   node esbuild.mjs                 development build with source maps
//   node esbuild.mjs --production    minified, no source maps (used by `vsce package`)
//   node esbuild.mjs --watch         rebuild on change (the .vscode build task)
import * as esbuild from "esbuild";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

/** Prints problems in the form of the $esbuild-watch problem matcher. */
const problemReporter = {
  name: "problem-reporter",
  setup(build) {
    build.onStart(() => console.log("[watch] build started"));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log("[watch] build finished");
    });
  },
};

const context = await esbuild.context({
  entryPoints: ["extension/src/extension.ts"],
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node18",
  outfile: "dist/extension.js",
  external: ["vscode"],
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: "warning",
  plugins: [problemReporter],
});

if (watch) {
  await context.watch();
} else {
  await context.rebuild();
  await context.dispose();
}
