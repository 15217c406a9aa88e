#!/usr/bin/env node
// Maintainer tool: reads upstream's generated.proto files and the Go types beside them, and writes
// src/api/protobuf/schema.generated.ts. Only facts are kept: message names, field numbers, field
// types, JSON names and the Go-JSON omission rule of each field. No comments or other upstream text.
//
//   node scripts/gen-protobuf-facts.mjs <api> <apimachinery> <apiextensions-apiserver> <kube-aggregator> > src/api/protobuf/schema.generated.ts
// Each argument is a checkout (or `git archive` export) of that repository at tag v0.32.0 (Kubernetes v1.32.0).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [apiRoot, machineryRoot, extensionsRoot, aggregatorRoot] = process.argv.slice(2);
if (!aggregatorRoot) {
  process.stderr.write('usage: gen-protobuf-facts.mjs <api> <apimachinery> <apiextensions-apiserver> <kube-aggregator>\n');
  process.exit(2);
}

const API_GROUPS = [
  'core/v1', 'apps/v1', 'batch/v1', 'autoscaling/v1', 'autoscaling/v2', 'policy/v1', 'rbac/v1', 'networking/v1',
  'scheduling/v1', 'storage/v1', 'node/v1', 'coordination/v1', 'discovery/v1', 'events/v1', 'certificates/v1',
  'authentication/v1', 'authorization/v1', 'admissionregistration/v1', 'flowcontrol/v1',
];

/** [directory, proto package, our short name, does it hold API kinds] */
const PACKAGES = [
  ...API_GROUPS.map((gv) => [join(apiRoot, gv), `k8s.io.api.${gv.replace('/', '.')}`, gv.replace('/', '.'), true]),
  [join(machineryRoot, 'pkg/apis/meta/v1'), 'k8s.io.apimachinery.pkg.apis.meta.v1', 'meta.v1', true],
  [join(machineryRoot, 'pkg/runtime'), 'k8s.io.apimachinery.pkg.runtime', 'runtime', false],
  [join(machineryRoot, 'pkg/util/intstr'), 'k8s.io.apimachinery.pkg.util.intstr', 'intstr', false],
  [join(machineryRoot, 'pkg/api/resource'), 'k8s.io.apimachinery.pkg.api.resource', 'resource', false],
  [join(extensionsRoot, 'pkg/apis/apiextensions/v1'), 'k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1', 'apiextensions.v1', true],
  [join(aggregatorRoot, 'pkg/apis/apiregistration/v1'), 'k8s.io.kube_aggregator.pkg.apis.apiregistration.v1', 'apiregistration.v1', true],
];

const SCALARS = new Set(['string', 'bool', 'int32', 'int64', 'bytes', 'double']);
const FLAG = { repeated: 1, map: 2, omitZero: 4, inline: 8 };

function fail(msg) {
  process.stderr.write(`gen-protobuf-facts: ${msg}\n`);
  process.exit(1);
}

// ---- generated.proto: messages and fields ----

/** @returns {Map<string, {name:string, number:number, label:'optional'|'repeated'|'map', type:string, key?:string}[]>} */
function parseProto(file, expectedPackage) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const messages = new Map();
  let current;
  let pkg;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (line === '') continue;
    let m;
    if ((m = /^package\s+([\w.]+);$/.exec(line))) pkg = m[1];
    else if (/^(syntax|import|option)\b/.test(line)) continue;
    else if ((m = /^message\s+(\w+)\s*\{$/.exec(line))) {
      if (current) fail(`${file}: nested message ${m[1]}`);
      current = [];
      messages.set(m[1], current);
    } else if (line === '}') {
      if (!current) fail(`${file}: unbalanced }`);
      current = undefined;
    } else if ((m = /^(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+);$/.exec(line))) {
      current.push({ label: m[1], type: m[2], name: m[3], number: Number(m[4]) });
    } else if ((m = /^map<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+);$/.exec(line))) {
      current.push({ label: 'map', key: m[1], type: m[2], name: m[3], number: Number(m[4]) });
    } else fail(`${file}: cannot read line: ${line}`);
  }
  if (pkg !== expectedPackage) fail(`${file}: package ${pkg}, expected ${expectedPackage}`);
  return messages;
}

// ---- Go types: JSON names, omitempty, pointers, inlining, kinds ----

function parseTag(tag) {
  const out = {};
  for (const m of tag.matchAll(/(\w+):"([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/** @returns {{structs: Map<string, object[]>, kinds: Set<string>, namedSlices: Set<string>}} */
function parseGo(dir) {
  const structs = new Map();
  const kinds = new Set();
  const namedSlices = new Set();
  const files = readdirSync(dir).filter(
    (f) => f.endsWith('.go') && !f.endsWith('_test.go') && !f.startsWith('zz_generated') && !f.endsWith('.pb.go'),
  );
  for (const f of files) {
    let current;
    let currentName;
    let depth = 0;
    for (const raw of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const line = raw.replace(/^\s+|\s+$/g, '');
      if (!current) {
        let m;
        if ((m = /^type\s+(\w+)\s+struct\s*\{$/.exec(line))) {
          current = [];
          currentName = m[1];
          depth = 1;
          structs.set(currentName, current);
        } else if ((m = /^type\s+(\w+)\s+\[\][\w.]+$/.exec(line))) namedSlices.add(m[1]);
        continue;
      }
      if (line.startsWith('//')) continue;
      const opens = (line.match(/\{/g) ?? []).length;
      const closes = (line.match(/\}/g) ?? []).length;
      if (depth === 1) {
        const m = /^([^`]*?)\s*`([^`]*)`/.exec(line);
        if (m) {
          const words = m[1].split(/\s+/).filter(Boolean);
          const tags = parseTag(m[2]);
          const goName = words.length === 1 ? words[0].replace(/^\*?(\w+\.)?/, '') : words[0];
          const goType = words.length === 1 ? words[0] : words.slice(1).join(' ');
          const embedded = words.length === 1;
          if (embedded && /(^|\.)TypeMeta$/.test(goType) && tags.json === ',inline' && !tags.protobuf) kinds.add(currentName);
          current.push({ goName, goType, embedded, json: tags.json, protobuf: tags.protobuf });
        }
      }
      depth += opens - closes;
      if (depth <= 0) current = undefined;
    }
  }
  return { structs, kinds, namedSlices };
}

function groupNameOf(dir) {
  const file = join(dir, 'register.go');
  if (!existsSync(file)) return undefined;
  const m = /GroupName\s*=\s*"([^"]*)"/.exec(readFileSync(file, 'utf8'));
  return m ? m[1] : undefined;
}

// ---- combine ----

const shortOf = new Map(PACKAGES.map(([, pkg, short]) => [pkg, short]));
const messages = new Map(); // short message name -> fields
const packages = {};
const arrayMessages = [];
const renamed = [];

for (const [dir, pkg, short, holdsKinds] of PACKAGES) {
  const proto = parseProto(join(dir, 'generated.proto'), pkg);
  const go = parseGo(dir);
  if (holdsKinds) {
    const group = groupNameOf(dir);
    if (group === undefined) fail(`${dir}: no GroupName in register.go`);
    const version = short.split('.').pop();
    const kinds = [...proto.keys()].filter((name) => go.kinds.has(name)).sort();
    packages[short] = { group, version, kinds };
  }
  for (const [name, fields] of proto) {
    const full = `${short}.${name}`;
    const struct = go.structs.get(name);
    if (!struct && fields.length > 0) process.stderr.write(`note: ${full} has no Go struct; keeping proto names\n`);
    if (go.namedSlices.has(name)) {
      if (fields.length !== 1 || fields[0].name !== 'items' || fields[0].label !== 'repeated') fail(`${full}: a Go slice type, but not an items wrapper`);
      arrayMessages.push(full);
    }
    const byNumber = new Map();
    for (const gf of struct ?? []) {
      if (!gf.protobuf) continue;
      const parts = gf.protobuf.split(',');
      byNumber.set(Number(parts[1]), gf);
    }
    const out = [];
    const placed = [];
    for (const f of fields) {
      let type = f.type;
      if (!SCALARS.has(type)) {
        if (type.startsWith('.')) {
          const dot = type.lastIndexOf('.');
          const p = shortOf.get(type.slice(1, dot));
          if (!p) fail(`${full}.${f.name}: type from an unknown package: ${type}`);
          type = `${p}.${type.slice(dot + 1)}`;
        } else if (!type.includes('.')) type = `${short}.${type}`;
        else fail(`${full}.${f.name}: unexpected type reference ${type}`);
      }
      if (f.label === 'map' && f.key !== 'string') fail(`${full}.${f.name}: map key ${f.key}`);
      const gf = byNumber.get(f.number);
      let jsonName = f.name;
      let flags = f.label === 'repeated' ? FLAG.repeated : f.label === 'map' ? FLAG.map : 0;
      let order = Number.MAX_SAFE_INTEGER;
      if (gf) {
        order = struct.indexOf(gf);
        const [jn, ...opts] = (gf.json ?? '').split(',');
        if (opts.includes('inline')) {
          if (SCALARS.has(type) || flags !== 0) fail(`${full}.${f.name}: inline field is not a message`);
          flags |= FLAG.inline;
        } else if (jn && jn !== '-') jsonName = jn;
        else if (!gf.json) jsonName = gf.goName;
        const pointer = gf.goType.startsWith('*');
        const sliceOrMap = gf.goType.startsWith('[]') || gf.goType.startsWith('map[');
        if (opts.includes('omitempty') && !pointer && flags === 0 && SCALARS.has(type)) {
          if (type !== 'bytes' || gf.goType.startsWith('[]')) flags |= FLAG.omitZero;
        }
        if (sliceOrMap && type !== 'bytes' && f.label === 'optional') fail(`${full}.${f.name}: Go slice or map as an optional proto field`);
      } else if (struct) {
        process.stderr.write(`note: ${full}.${f.name} (${f.number}) has no Go field; keeping the proto name\n`);
      }
      if (jsonName !== f.name && !(flags & FLAG.inline)) renamed.push(`${full}.${f.name} -> ${jsonName}`);
      placed.push({ order, tuple: flags ? [f.number, jsonName, type, flags] : [f.number, jsonName, type] });
    }
    placed.sort((a, b) => a.order - b.order);
    for (const p of placed) out.push(p.tuple);
    messages.set(full, out);
  }
}

// Every referenced message must be known.
for (const [name, fields] of messages) {
  for (const [, json, type] of fields) {
    if (!SCALARS.has(type) && !messages.has(type)) fail(`${name}.${json}: unknown message ${type}`);
  }
}
for (const r of renamed) process.stderr.write(`json name differs: ${r}\n`);

const lines = [];
lines.push('// Generated by scripts/gen-protobuf-facts.mjs from Kubernetes v1.32.0 (k8s.io/api, apimachinery,');
lines.push('// apiextensions-apiserver and kube-aggregator at v0.32.0). Facts only: message names, field numbers,');
lines.push('// field types and JSON names. Do not edit.');
lines.push("import type { ProtobufField, ProtobufPackage } from './schemaTypes.js';");
lines.push('');
lines.push("export const PROTOBUF_SCHEMA_VERSION = 'v1.32.0';");
lines.push('');
lines.push('/** Packages that hold API kinds: their group, version and kinds (Go types that inline TypeMeta). */');
lines.push('export const PROTOBUF_PACKAGES: Readonly<Record<string, ProtobufPackage>> = {');
for (const [short, p] of Object.entries(packages)) lines.push(`  ${JSON.stringify(short)}: ${JSON.stringify(p)},`);
lines.push('};');
lines.push('');
lines.push('/** Messages that are Go slice types: `{ repeated items = 1 }` on the wire, a JSON array. */');
lines.push(`export const PROTOBUF_ARRAY_MESSAGES: readonly string[] = ${JSON.stringify(arrayMessages.sort())};`);
lines.push('');
lines.push('/** Every message by short name, its fields in Go struct (JSON output) order. */');
lines.push('export const PROTOBUF_MESSAGES: Readonly<Record<string, readonly ProtobufField[]>> = {');
for (const name of [...messages.keys()].sort()) lines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(messages.get(name))},`);
lines.push('};');
process.stdout.write(lines.join('\n') + '\n');
process.stderr.write(`${messages.size} messages, ${[...messages.values()].reduce((n, f) => n + f.length, 0)} fields, ${Object.keys(packages).length} packages\n`);
