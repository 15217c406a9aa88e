// Build step: derives the Swagger definitions of every built-in kind from the kubernetes-models
// package (its .d.ts files give descriptions, property types, refs, optionality and enums; its
// compiled _schemas validators give required lists and integer/number/string formats), merges the
// upstream x-kubernetes-* facts (upstreamFacts.ts) and writes dist/openapi/definitions.json.
// Run as `node dist/src/api/openapi/build.js` (package.json's build script does).
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { DefinitionFacts, DefinitionsFile, JsonSchema } from './factTypes.js';
import { UPSTREAM_DEFINITIONS, UPSTREAM_KUBERNETES_VERSION } from './upstreamFacts.js';
import { DEFINITIONS_FILE } from './definitions.js';

const REF_PREFIX = '#/definitions/';

/** One model type as read from a .d.ts file, before refs are resolved to upstream names. */
interface ModelType {
  /** kubernetes-models' id, e.g. IoK8sApiAppsV1Deployment. */
  id: string;
  description?: string;
  /** Schema with refs still as model ids ("#/definitions/<id>"). */
  schema: JsonSchema;
  /** apiVersion/kind are string literals (the package's TypeMeta): not required upstream. */
  typeMeta: boolean;
  /** Properties that kubernetes-models marks optional (`?`). */
  optional: Set<string>;
  /** Directory of the package's compiled validators. */
  schemasDir: string;
}

/** What a compiled validator says about one property: JSON types and formats it checks. */
interface ValidatorProperty {
  types: Set<string>;
  formats: Set<string>;
}

interface ValidatorFacts {
  required: string[];
  properties: Map<string, ValidatorProperty>;
}

function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(`${name}/package.json`));
}

function walkDts(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (e.name !== '_schemas' && e.name !== 'node_modules') walkDts(join(dir, e.name), out);
    } else if (e.name.endsWith('.d.ts') && e.name !== 'index.d.ts') {
      out.push(join(dir, e.name));
    }
  }
  return out;
}

/** The text of the /** … *\/ comment right before a node, without its stars; undefined if none. */
function docComment(source: ts.SourceFile, node: ts.Node): string | undefined {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const last = ranges.filter((r) => source.text.startsWith('/**', r.pos)).pop();
  if (!last) return undefined;
  const raw = source.text.slice(last.pos + 3, last.end - 2);
  const lines = raw.split('\n').map((l) => l.replace(/^\s*\* ?/, '').replace(/\s+$/, ''));
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const text = lines.join('\n').replace(/\*\\\//g, '*/');
  return text === '' ? undefined : text;
}

function propertyName(name: ts.PropertyName): string | undefined {
  if (ts.isStringLiteral(name) || ts.isIdentifier(name) || ts.isNumericLiteral(name)) return name.text;
  return undefined;
}

class DtsReader {
  constructor(
    private readonly source: ts.SourceFile,
    /** Local interface name → model id, from the file's `export { IX as IIoK8s… }`. */
    private readonly locals: Map<string, string>,
  ) {}

  typeToSchema(node: ts.TypeNode): JsonSchema {
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
        return { type: 'string' };
      case ts.SyntaxKind.NumberKeyword:
        return { type: 'number' };
      case ts.SyntaxKind.BooleanKeyword:
        return { type: 'boolean' };
      case ts.SyntaxKind.AnyKeyword:
      case ts.SyntaxKind.UnknownKeyword:
        return {};
      case ts.SyntaxKind.ObjectKeyword:
        return { type: 'object' };
    }
    if (ts.isParenthesizedTypeNode(node)) return this.typeToSchema(node.type);
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) return { type: 'string', enum: [node.literal.text] };
    if (ts.isUnionTypeNode(node)) {
      const literals = node.types.map((t) => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : undefined));
      if (literals.every((l): l is string => l !== undefined)) return { type: 'string', enum: literals };
      return {};
    }
    if (ts.isArrayTypeNode(node)) return { type: 'array', items: this.typeToSchema(node.elementType) };
    if (ts.isTypeReferenceNode(node)) {
      const name = node.typeName.getText(this.source);
      const arg = node.typeArguments?.[0];
      if (name === 'Array' && arg) return { type: 'array', items: this.typeToSchema(arg) };
      const id = name.startsWith('IIoK8s') ? name.slice(1) : this.locals.get(name);
      if (id) return { $ref: REF_PREFIX + id };
      throw new Error(`${this.source.fileName}: unknown type reference ${name}`);
    }
    if (ts.isTypeLiteralNode(node)) return this.literalToSchema(node.members);
    throw new Error(`${this.source.fileName}: unsupported type ${node.getText(this.source)}`);
  }

  /** `{ [key: string]: T }` is a map; any other literal is an inline object. */
  literalToSchema(members: ts.NodeArray<ts.TypeElement>): JsonSchema {
    const index = members.find(ts.isIndexSignatureDeclaration);
    if (index && members.length === 1) return { type: 'object', additionalProperties: this.typeToSchema(index.type) };
    return this.objectSchema(members).schema;
  }

  objectSchema(members: ts.NodeArray<ts.TypeElement>): { schema: JsonSchema; optional: Set<string> } {
    const properties: Record<string, JsonSchema> = {};
    const optional = new Set<string>();
    for (const m of members) {
      if (!ts.isPropertySignature(m) || !m.type) continue;
      const name = propertyName(m.name);
      if (name === undefined) continue;
      const description = docComment(this.source, m);
      properties[name] = { ...(description !== undefined ? { description } : {}), ...this.typeToSchema(m.type) };
      if (m.questionToken) optional.add(name);
    }
    return { schema: { type: 'object', properties }, optional };
  }
}

function readModelFile(file: string, schemasDir: string): ModelType[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const locals = new Map<string, string>();
  for (const st of source.statements) {
    if (!ts.isExportDeclaration(st) || !st.exportClause || !ts.isNamedExports(st.exportClause)) continue;
    for (const el of st.exportClause.elements) {
      const exported = el.name.text;
      const local = el.propertyName?.text ?? exported;
      if (exported.startsWith('IIoK8s')) locals.set(local, exported.slice(1));
    }
  }
  const reader = new DtsReader(source, locals);
  const out: ModelType[] = [];
  for (const st of source.statements) {
    if (ts.isInterfaceDeclaration(st)) {
      const id = locals.get(st.name.text);
      if (!id) continue;
      const { schema, optional } = reader.objectSchema(st.members);
      const typeMeta = (st.heritageClauses ?? []).some((h) => h.types.some((t) => t.expression.getText(source) === 'TypeMeta'));
      const description = docComment(source, st);
      out.push({ id, schema, optional, typeMeta, schemasDir, ...(description !== undefined ? { description } : {}) });
    } else if (ts.isTypeAliasDeclaration(st)) {
      const id = locals.get(st.name.text);
      if (!id) continue;
      const description = docComment(source, st);
      // Aliases (IntOrString, Quantity, Time, MicroTime) take their type from the upstream facts.
      out.push({ id, schema: {}, optional: new Set(), typeMeta: false, schemasDir, ...(description !== undefined ? { description } : {}) });
    }
  }
  return out;
}

/**
 * Reads an ajv-compiled validator (one module per definition) as text: the first function
 * checks the object; it lists required properties and dispatches each property to a helper
 * function whose body (and the helpers it calls in the same file) shows the types and formats.
 */
function readValidator(file: string): ValidatorFacts | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const starts = [...text.matchAll(/function (validate\d+)\(/g)];
  const bodies = new Map<string, string>();
  starts.forEach((m, i) => {
    const end = starts[i + 1]?.index ?? text.length;
    if (m[1] !== undefined && !bodies.has(m[1])) bodies.set(m[1], text.slice(m.index, end));
  });
  const main = /validate=(?:function )?(validate\d+)[(,;]/.exec(text)?.[1];
  const mainBody = main === undefined ? undefined : bodies.get(main);
  if (mainBody === undefined) return undefined;
  const required = [...mainBody.matchAll(/keyword:"required",params:\{missingProperty:"([^"]+)"\}/g)].map((m) => m[1] ?? '');
  const properties = new Map<string, ValidatorProperty>();
  for (const m of mainBody.matchAll(/(validate\d+)\(data(?:\.([A-Za-z_$][\w$]*)|\["([^"]+)"\])/g)) {
    const fn = m[1];
    const prop = m[2] ?? m[3];
    if (fn === undefined || prop === undefined || fn === main || properties.has(prop)) continue;
    const seen = new Set<string>();
    const queue = [fn];
    const facts: ValidatorProperty = { types: new Set(), formats: new Set() };
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const body = bodies.get(name) ?? '';
      for (const t of body.matchAll(/params:\{type:"(\w+)"\}/g)) facts.types.add(t[1] ?? '');
      for (const f of body.matchAll(/params:\{format:"([\w-]+)"\}/g)) facts.formats.add(f[1] ?? '');
      for (const c of body.matchAll(/(validate\d+)\(/g)) if (c[1] !== undefined && c[1] !== name) queue.push(c[1]);
    }
    properties.set(prop, facts);
  }
  // Recursive schemas (JSONSchemaProps) check some properties inline: `if(void 0!==data.x){…}`.
  const inline = [...mainBody.matchAll(/void 0!==data(?:\.([A-Za-z_$][\w$]*)|\["([^"]+)"\])\)\{/g)];
  inline.forEach((m, i) => {
    const prop = m[1] ?? m[2];
    if (prop === undefined || properties.has(prop)) return;
    const block = mainBody.slice(m.index, inline[i + 1]?.index ?? mainBody.length);
    const facts: ValidatorProperty = { types: new Set(), formats: new Set() };
    for (const t of block.matchAll(/params:\{type:"(\w+)"\}/g)) facts.types.add(t[1] ?? '');
    for (const f of block.matchAll(/params:\{format:"([\w-]+)"\}/g)) facts.formats.add(f[1] ?? '');
    properties.set(prop, facts);
  });
  return { required, properties };
}

/** Applies a validator's integer/number/string formats to the innermost scalar of a property schema. */
function applyFormats(schema: JsonSchema, v: ValidatorProperty): void {
  let s = schema;
  while (s.items || (typeof s.additionalProperties === 'object' && s.additionalProperties)) {
    s = s.items ?? (s.additionalProperties as JsonSchema);
  }
  if (s.$ref !== undefined) return;
  if (s.type === 'number') {
    if (v.types.has('integer')) {
      s.type = 'integer';
      const f = ['int32', 'int64'].find((x) => v.formats.has(x));
      if (f) s.format = f;
    } else if (v.formats.has('double')) {
      s.format = 'double';
    }
  } else if (s.type === 'string') {
    const f = ['byte', 'date-time'].find((x) => v.formats.has(x));
    if (f) s.format = f;
  }
}

const normalize = (name: string) => name.replace(/[.-]/g, '').toLowerCase();

/** io.k8s.api.<group>.<version>.<Kind> for a model id like IoK8sApiDiscoveryV1ForNode. */
function derivedName(id: string): string | undefined {
  const m = /^IoK8sApi([A-Z][a-z]+)(V\d+(?:(?:alpha|beta)\d+)?)([A-Z]\w*)$/.exec(id);
  return m ? `io.k8s.api.${m[1]!.toLowerCase()}.${m[2]!.toLowerCase()}.${m[3]}` : undefined;
}

function referencedIds(schema: JsonSchema, out: string[] = []): string[] {
  if (schema.$ref !== undefined) out.push(schema.$ref.slice(REF_PREFIX.length));
  if (schema.items) referencedIds(schema.items, out);
  if (typeof schema.additionalProperties === 'object') referencedIds(schema.additionalProperties, out);
  for (const p of Object.values(schema.properties ?? {})) referencedIds(p, out);
  return out;
}

/** Replaces "#/definitions/<model id>" refs by upstream names; returns refs it could not resolve. */
function resolveRefs(schema: JsonSchema, names: Map<string, string>, unresolved: Set<string>): void {
  if (schema.$ref !== undefined) {
    const id = schema.$ref.slice(REF_PREFIX.length);
    const name = names.get(id);
    if (name) schema.$ref = REF_PREFIX + name;
    else unresolved.add(id);
  }
  if (schema.items) resolveRefs(schema.items, names, unresolved);
  if (typeof schema.additionalProperties === 'object') resolveRefs(schema.additionalProperties, names, unresolved);
  for (const p of Object.values(schema.properties ?? {})) resolveRefs(p, names, unresolved);
}

/** A structural signature of an object schema, to recognise inlined copies of named definitions. */
function signature(schema: JsonSchema): string | undefined {
  if (!schema.properties) return undefined;
  return Object.entries(schema.properties)
    .map(([k, v]) => `${k}:${v.$ref ?? v.type ?? ''}:${v.items?.$ref ?? v.items?.type ?? ''}`)
    .sort()
    .join(',');
}

/** kubernetes-models inlines a few definitions (StatefulSetSpec.volumeClaimTemplates): point them back to the named one. */
function replaceInlined(schema: JsonSchema, bySignature: Map<string, string>): void {
  for (const p of Object.values(schema.properties ?? {})) {
    const target = p.items ?? p;
    const sig = target.properties ? signature(target) : undefined;
    const id = sig === undefined ? undefined : bySignature.get(sig);
    if (id !== undefined) {
      for (const k of Object.keys(target) as (keyof JsonSchema)[]) delete target[k];
      target.$ref = REF_PREFIX + id;
    } else if (target.properties) {
      replaceInlined(target, bySignature);
    }
  }
}

function applyFieldFacts(schema: JsonSchema, facts: DefinitionFacts): void {
  for (const [name, f] of Object.entries(facts.fields ?? {})) {
    const p = schema.properties?.[name];
    if (!p) continue;
    if (f.lmk) p['x-kubernetes-list-map-keys'] = [...f.lmk];
    if (f.lt) p['x-kubernetes-list-type'] = f.lt;
    if (f.mt) p['x-kubernetes-map-type'] = f.mt;
    if (f.pmk) p['x-kubernetes-patch-merge-key'] = f.pmk;
    if (f.ps) p['x-kubernetes-patch-strategy'] = f.ps;
  }
  if (facts.gvk) schema['x-kubernetes-group-version-kind'] = facts.gvk.map(([group, version, kind]) => ({ group, kind, version }));
  if (facts.mt) schema['x-kubernetes-map-type'] = facts.mt;
  if (facts.unions) schema['x-kubernetes-unions'] = facts.unions;
}

export interface BuildReport {
  file: DefinitionsFile;
  /** Upstream definitions kubernetes-models does not have (alpha/beta groups). */
  missingFromModels: string[];
  /** Model types upstream 1.32 does not publish (removed versions): left out. */
  notUpstream: string[];
  /** Newer model types kept because upstream definitions refer to them (names derived). */
  newerThanFacts: string[];
}

/** Reads the installed packages and returns the merged definitions. */
export function buildDefinitions(): BuildReport {
  const modelsDir = packageDir('kubernetes-models');
  const apimachineryDir = packageDir('@kubernetes-models/apimachinery');
  const models: ModelType[] = [];
  for (const dir of [modelsDir, apimachineryDir]) {
    for (const file of walkDts(dir)) models.push(...readModelFile(file, join(dir, '_schemas')));
  }

  const upstreamByNorm = new Map(Object.keys(UPSTREAM_DEFINITIONS).map((n) => [normalize(n), n]));
  const names = new Map<string, string>();
  const notUpstream: string[] = [];
  const extraNames: string[] = [];
  for (const m of models) {
    const name = upstreamByNorm.get(m.id.toLowerCase());
    if (name) names.set(m.id, name);
    else notUpstream.push(m.id);
  }
  // Types newer than the facts (kubernetes-models may run a release ahead) are kept when an upstream
  // definition refers to them, under the name upstream's naming scheme gives them.
  const allById = new Map(models.map((m) => [m.id, m]));
  const pending = [...names.keys()];
  while (pending.length > 0) {
    const m = allById.get(pending.pop()!);
    for (const id of m ? referencedIds(m.schema) : []) {
      if (names.has(id)) continue;
      const derived = derivedName(id);
      if (derived === undefined || !allById.has(id)) continue;
      names.set(id, derived);
      extraNames.push(derived);
      pending.push(id);
    }
  }
  const byId = new Map(models.filter((m) => names.has(m.id)).map((m) => [m.id, m]));

  // Standard apiVersion/kind texts, from a model that carries them, for kinds whose .d.ts has literals instead.
  const deleteOptions = byId.get('IoK8sApimachineryPkgApisMetaV1DeleteOptions')?.schema.properties;
  const typeMetaDocs = { apiVersion: deleteOptions?.['apiVersion']?.description, kind: deleteOptions?.['kind']?.description };

  const bySignature = new Map<string, string>();
  const ambiguous = new Set<string>();
  for (const m of byId.values()) {
    const sig = signature(m.schema);
    if (sig === undefined || Object.keys(m.schema.properties ?? {}).length < 3) continue;
    if (bySignature.has(sig)) ambiguous.add(sig);
    bySignature.set(sig, m.id);
  }
  for (const sig of ambiguous) bySignature.delete(sig);

  const definitions: Record<string, JsonSchema> = {};
  const unresolved = new Set<string>();
  for (const m of byId.values()) {
    const name = names.get(m.id)!;
    const facts = UPSTREAM_DEFINITIONS[name] ?? {};
    const schema: JsonSchema = {};
    if (m.description !== undefined) schema.description = m.description;
    const props = m.schema.properties;
    if (props && Object.keys(props).length > 0) {
      const validator = readValidator(join(m.schemasDir, `${m.id}.js`));
      for (const [key, p] of Object.entries(props)) {
        const v = validator?.properties.get(key);
        if (v) applyFormats(p, v);
        if (m.typeMeta && (key === 'apiVersion' || key === 'kind')) {
          delete p.enum;
          if (p.description === undefined && typeMetaDocs[key] !== undefined) p.description = typeMetaDocs[key];
        }
      }
      replaceInlined(m.schema, bySignature);
      schema.properties = props;
      const required = (validator?.required ?? Object.keys(props).filter((k) => !m.optional.has(k))).filter(
        (k) => !(m.typeMeta && (k === 'apiVersion' || k === 'kind')),
      );
      if (required.length > 0) schema.required = required;
      schema.type = 'object';
    } else {
      if (facts.type !== undefined) schema.type = facts.type;
      if (facts.format !== undefined) schema.format = facts.format;
    }
    applyFieldFacts(schema, facts);
    resolveRefs(schema, names, unresolved);
    definitions[name] = schema;
  }
  if (unresolved.size > 0) throw new Error(`unresolved references: ${[...unresolved].join(', ')}`);

  const sorted: Record<string, JsonSchema> = {};
  for (const k of Object.keys(definitions).sort()) sorted[k] = definitions[k]!;
  const modelsVersion = (JSON.parse(readFileSync(join(modelsDir, 'package.json'), 'utf8')) as { version: string }).version;
  const present = new Set(Object.keys(sorted));
  return {
    file: { kubernetesVersion: UPSTREAM_KUBERNETES_VERSION, modelsVersion, definitions: sorted },
    missingFromModels: Object.keys(UPSTREAM_DEFINITIONS).filter((n) => !present.has(n)),
    notUpstream: notUpstream.filter((id) => !names.has(id)).sort(),
    newerThanFacts: extraNames.sort(),
  };
}

function main(): void {
  const started = performance.now();
  const report = buildDefinitions();
  mkdirSync(dirname(DEFINITIONS_FILE), { recursive: true });
  const json = JSON.stringify(report.file);
  writeFileSync(DEFINITIONS_FILE, json);
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `openapi: ${Object.keys(report.file.definitions).length} definitions (${(json.length / 1024).toFixed(0)} KiB) from kubernetes-models ` +
      `${report.file.modelsVersion} + Kubernetes ${report.file.kubernetesVersion} facts in ${ms} ms; ` +
      `${report.missingFromModels.length} upstream definitions not in kubernetes-models, ${report.notUpstream.length} model types not upstream, ` +
      `${report.newerThanFacts.length} newer types kept\n`,
  );
  if (process.env['K8TS_OPENAPI_BUILD_VERBOSE']) {
    process.stdout.write(`missing from kubernetes-models:\n  ${report.missingFromModels.join('\n  ')}\n`);
    process.stdout.write(`not published upstream:\n  ${report.notUpstream.join('\n  ')}\n`);
    process.stdout.write(`newer than the facts:\n  ${report.newerThanFacts.join('\n  ')}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
