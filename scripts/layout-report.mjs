#!/usr/bin/env node
// Prints the shape of src/ from its import graph: big files, the largest module,
// imports into agent/ from outside, imports that run up the layers, and circles.
// Usage: node scripts/layout-report.mjs [--strict]   (--strict: exit 1 on an upward import or a circle)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'src');

// Lower layers never import higher ones. Folders not listed sit at layer 0 (errors, log, deadline).
const LAYERS = {
  names: 1, config: 1, etcd: 1, archive: 1,
  s3: 2, ssh: 2, docker: 2, 'rke-tools': 2,
  agent: 3,
  snapshot: 4,
  cli: 5,
};
// The agent is the container program: only the CLI side's own protocol definitions may be shared with it.
const AGENT_SHARED = 'agent/protocol/';

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return entry.endsWith('.ts') && !entry.endsWith('.test.ts') ? [path] : [];
  });
}

function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const targets = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
    targets.push(relative(src, resolve(dirname(file), match[1])).replace(/\.js$/, '.ts'));
  }
  return targets;
}

const folderOf = (module) => (module.includes('/') ? module.split('/')[0] : '');
const layerOf = (module) => LAYERS[folderOf(module)] ?? 0;

const files = sourceFiles(src).map((file) => relative(src, file)).sort();
const lines = new Map(files.map((file) => [file, readFileSync(join(src, file), 'utf8').split('\n').length - 1]));
const graph = new Map(files.map((file) => [file, importsOf(join(src, file))]));

const big = files.filter((file) => lines.get(file) > 300).sort((a, b) => lines.get(b) - lines.get(a));
const largest = [...files].sort((a, b) => lines.get(b) - lines.get(a))[0];
const intoAgent = [];
const upward = [];
for (const [file, targets] of graph) {
  for (const target of targets) {
    if (folderOf(target) === 'agent' && folderOf(file) !== 'agent' && !target.startsWith(AGENT_SHARED)) {
      intoAgent.push(`${file} -> ${target}`);
    }
    if (layerOf(target) > layerOf(file)) upward.push(`${file} -> ${target}`);
  }
}

// Circles: strongly connected components of more than one module (Tarjan).
const circles = [];
{
  let index = 0;
  const order = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const visit = (file) => {
    order.set(file, index);
    low.set(file, index++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!order.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file), low.get(target)));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file), order.get(target)));
      }
    }
    if (low.get(file) === order.get(file)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const file of files) if (!order.has(file)) visit(file);
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const folders = new Map();
for (const file of files) {
  const folder = folderOf(file) || '(top)';
  const entry = folders.get(folder) ?? { files: 0, lines: 0 };
  entry.files += 1;
  entry.lines += lines.get(file);
  folders.set(folder, entry);
}

const list = (items) => (items.length === 0 ? '  (none)' : items.map((item) => `  ${item}`).join('\n'));
console.log(`source modules: ${files.length} (${[...lines.values()].reduce((a, b) => a + b, 0)} lines, tests not counted)`);
console.log(`folders:\n${list([...folders].map(([folder, e]) => `${folder}: ${e.files} files, ${e.lines} lines`))}`);
console.log(`files over 300 lines: ${big.length}\n${list(big.map((file) => `${file} (${lines.get(file)})`))}`);
console.log(`largest module: ${largest} (${lines.get(largest)} lines)`);
console.log(`imports into agent/ from outside (other than ${AGENT_SHARED}): ${intoAgent.length}\n${list(intoAgent)}`);
console.log(`upward imports: ${upward.length}\n${list(upward)}`);
console.log(`circles: ${circles.length}\n${list(circles.map((c) => c.join(' <-> ')))}`);
console.log(`README.md: ${Buffer.byteLength(readme)} bytes, ${readme.split('\n').length - 1} lines`);
if (process.argv.includes('--strict') && (upward.length > 0 || circles.length > 0)) process.exit(1);
