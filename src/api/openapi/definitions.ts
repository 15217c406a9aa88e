// The built-in definitions at run time: loaded once, lazily, from dist/openapi/definitions.json
// (written by build.ts), plus an index from group/version/kind to definition name.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DefinitionsFile, JsonSchema } from './factTypes.js';

/** Where build.ts writes the definitions: dist/openapi/definitions.json. */
export const DEFINITIONS_FILE = fileURLToPath(new URL('../../../openapi/definitions.json', import.meta.url));

export const V2_REF_PREFIX = '#/definitions/';
export const V3_REF_PREFIX = '#/components/schemas/';

let loaded: DefinitionsFile | undefined;

/**
 * The built-in definitions (Swagger 2.0 form). Read on first use; if the build step has not run
 * (a bare `tsc`), it is run once now, which takes about a second.
 * The returned objects are shared: never mutate them.
 */
export function builtinDefinitions(): DefinitionsFile {
  if (loaded) return loaded;
  if (!existsSync(DEFINITIONS_FILE)) {
    execFileSync(process.execPath, [fileURLToPath(new URL('./build.js', import.meta.url))], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  loaded = JSON.parse(readFileSync(DEFINITIONS_FILE, 'utf8')) as DefinitionsFile;
  return loaded;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export const gvkKey = (g: GroupVersionKind) => `${g.group}/${g.version}/${g.kind}`;

let builtinIndex: Map<string, string> | undefined;

/** group/version/Kind → definition name, from the definitions' x-kubernetes-group-version-kind (first wins). */
export function builtinGvkIndex(): Map<string, string> {
  if (builtinIndex) return builtinIndex;
  const index = new Map<string, string>();
  for (const [name, def] of Object.entries(builtinDefinitions().definitions)) {
    for (const g of gvkList(def)) if (!index.has(gvkKey(g))) index.set(gvkKey(g), name);
  }
  builtinIndex = index;
  return index;
}

export function gvkList(def: JsonSchema): GroupVersionKind[] {
  const ext = def['x-kubernetes-group-version-kind'];
  return Array.isArray(ext) ? (ext as GroupVersionKind[]) : [];
}

/** The name of the definition a $ref points to (either prefix). */
export function refName(ref: string): string {
  if (ref.startsWith(V2_REF_PREFIX)) return ref.slice(V2_REF_PREFIX.length);
  if (ref.startsWith(V3_REF_PREFIX)) return ref.slice(V3_REF_PREFIX.length);
  return ref;
}

/** Calls fn with the name of every definition a schema refers to, directly (not transitively). */
export function forEachRef(schema: unknown, fn: (name: string) => void): void {
  if (Array.isArray(schema)) {
    for (const s of schema) forEachRef(s, fn);
    return;
  }
  if (typeof schema !== 'object' || schema === null) return;
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string') fn(refName(v));
    else if (k === 'properties' && typeof v === 'object' && v !== null) {
      // Property names are not keywords: `x-kubernetes-validations` is a field of JSONSchemaProps.
      for (const p of Object.values(v)) forEachRef(p, fn);
    } else if (typeof v === 'object' && v !== null && !k.startsWith('x-') && k !== 'default' && k !== 'enum') forEachRef(v, fn);
  }
}
