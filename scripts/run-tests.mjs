#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in runner.
// Node 20's --test takes no globs, so the files are listed here. Pass words to run only matching files.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
const filters = process.argv.slice(2);
const files = walk(root)
  .filter((f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${root}${filters.length ? ` matching ${filters.join(' ')}` : ''}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
