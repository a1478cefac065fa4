// Bundles each stand-in (dashboard, gateway, echo) into one self-contained CommonJS file,
// dist/standins/<name>.js, so a minimal image holding only /usr/bin/node can run it.
// Run from the package's build script: node lab/build-standins.js
'use strict';
/* global require, __dirname, process, console */
/* eslint-disable @typescript-eslint/no-require-imports */
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const STANDINS = ['dashboard', 'gateway', 'echo'];

async function main() {
  for (const name of STANDINS) {
    await esbuild.build({
      entryPoints: [path.join(root, 'lab', 'standins', `${name}.ts`)],
      outfile: path.join(root, 'dist', 'standins', `${name}.js`),
      bundle: true, // includes the yaml package; only Node built-ins stay external
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
  console.log(`built ${STANDINS.map((n) => `dist/standins/${n}.js`).join(', ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
