#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in runner.
// Node 20's --test takes no globs, so the files are listed here. Pass words to run only matching files.
// The TAP stream passes through unchanged; the failed tests are listed again after it, because CI
// keeps only the tail of a long log and a failure buried 30,000 lines up cannot be read there.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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

const child = spawn(process.execPath, ['--test', '--test-reporter=tap', ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
// Keep the path of suite names down to each failing test, and the YAML block that follows it.
const stack = [];
const failures = [];
let current;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const indent = line.length - line.trimStart().length;
  const body = line.trimStart();
  const subtest = /^# Subtest: (.*)$/.exec(body);
  if (subtest) {
    stack.length = indent / 4;
    stack[indent / 4] = subtest[1];
    current = undefined;
    return;
  }
  if (/^not ok \d+ - /.test(body)) {
    const depth = indent / 4;
    current = { depth, path: stack.slice(0, depth + 1), details: [] };
    failures.push(current);
    return;
  }
  if (/^ok \d+ - /.test(body)) {
    current = undefined;
    return;
  }
  if (current && current.details.length < 40) current.details.push(line);
});
child.on('close', (code, signal) => {
  // A suite that fails only because tests in it failed, and tests cancelled because their suite's
  // hook failed, add nothing: list the failing tests and hooks themselves.
  const failureType = (f) => /failureType: '([^']+)'/.exec(f.details.join('\n'))?.[1];
  const cancelled = failures.filter((f) => failureType(f) === 'cancelledByParent').length;
  const shown = failures.filter((f) => !['subtestsFailed', 'cancelledByParent'].includes(failureType(f)));
  if (shown.length > 0 || cancelled > 0) {
    process.stdout.write(`\n# ${shown.length} failed${cancelled ? ` (and ${cancelled} cancelled with them)` : ''}:\n`);
    for (const f of shown) {
      process.stdout.write(`# FAILED ${f.path.join(' > ')}\n`);
      for (const d of f.details) process.stdout.write(`#   ${d.trim()}\n`);
    }
  }
  process.exit(code ?? (signal ? 1 : 0));
});
