// ControllerRevision history as upstream's pkg/controller/history: a workload's pod templates are
// snapshotted as apps/v1 ControllerRevisions named `<owner>-<hash>` with increasing revision numbers,
// which is what `kubectl rollout history/undo` reads and replays for DaemonSets and StatefulSets.

import type { ControllerRevision } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { matches, type Requirement } from '../../api/labels.js';
import { isAlreadyExists, isInvalid, isNotFound } from '../../client/apiError.js';
import type { Lister } from '../../client/lister.js';
import type { KubeObject } from '../../client/resourceClient.js';
import type { RestClient } from '../../client/restClient.js';
import { controllerOf, controllerRef, type Owner } from '../controllerRef.js';

/** The label holding the hash of a revision's data (upstream's ControllerRevisionHashLabel). */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller.kubernetes.io/hash';
/** The label DaemonSet and StatefulSet pods carry with their revision (apps/v1 ControllerRevisionHashLabelKey). */
export const POD_REVISION_HASH_LABEL = 'controller-revision-hash';

export type Revision = ControllerRevision & KubeObject;

// k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: no vowels, no look-alikes.
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** Upstream's rand.SafeEncodeString. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ALPHANUMS[s.charCodeAt(i) % ALPHANUMS.length];
  return out;
}

/** FNV-1 (Go's fnv.New32) over `bytes`, continuing from `h`. */
export function fnv32(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) h = (Math.imul(h, 0x01000193) ^ b) >>> 0;
  return h >>> 0;
}

/** FNV-1a (Go's fnv.New32a) over `bytes`, continuing from `h`. */
export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * JSON as Go's encoding/json writes a `map[string]interface{}`: compact, object keys sorted,
 * `<`, `>`, `&`, U+2028 and U+2029 escaped. Revision data must be byte-stable, because both the
 * controller and kubectl compare it with bytes.Equal.
 */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x) => goJson(x)).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${goString(k)}:${goJson(o[k])}`).join(',')}}`;
  }
  if (typeof v === 'string') return goString(v);
  return JSON.stringify(v);
}

function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The strategic merge patch that restores `template` (upstream's getPatch for DaemonSets and
 * StatefulSets): `{"spec":{"template":{…,"$patch":"replace"}}}`. The template's metadata carries
 * `creationTimestamp: null` as Go's typed encoding does, so kubectl's byte comparison matches.
 */
export function templatePatch(template: Readonly<PodTemplateSpec> | undefined): { spec: { template: Record<string, unknown> } } {
  const t = structuredClone((template ?? {}) as Record<string, unknown>);
  const metadata = (t.metadata ?? {}) as Record<string, unknown>;
  if (!('creationTimestamp' in metadata)) metadata.creationTimestamp = null;
  t.metadata = metadata;
  t.$patch = 'replace';
  // Keys sorted at every level, so the JSON the API server keeps (and kubectl compares) is Go's.
  return sortKeysDeep({ spec: { template: t } }) as { spec: { template: Record<string, unknown> } };
}

/** A copy with object keys in sorted order at every level (how Go marshals a map). */
export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => sortKeysDeep(x));
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeysDeep(o[k]);
  return out;
}

/** The template a revision's data restores (upstream's ApplyRevision for the template-only patch). */
export function templateFromRevision(rev: Readonly<Revision>): PodTemplateSpec | undefined {
  const data = rev.data as { spec?: { template?: Record<string, unknown> } } | undefined;
  const t = data?.spec?.template;
  if (!t) return undefined;
  const { $patch: _ignored, ...rest } = structuredClone(t);
  const metadata = rest.metadata as Record<string, unknown> | undefined;
  if (metadata && metadata.creationTimestamp === null) delete metadata.creationTimestamp;
  return rest as PodTemplateSpec;
}

/** Upstream's HashControllerRevision: FNV-1 of the data bytes and the collision probe, safe-encoded. */
export function hashControllerRevision(dataBytes: string, probe?: number): string {
  let h = fnv32(utf8(dataBytes));
  if (probe !== undefined) h = fnv32(utf8(String(probe)), h);
  return safeEncodeString(String(h));
}

/** `<prefix>-<hash>` with the prefix cut to 223 bytes, as upstream's ControllerRevisionName. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`;
}

/** Sorted by revision, then creation time, then name (upstream's byRevision); returns a new array. */
export function sortControllerRevisions<T extends Readonly<Revision>>(revs: readonly T[]): T[] {
  return [...revs].sort((a, b) => {
    if ((a.revision ?? 0) !== (b.revision ?? 0)) return (a.revision ?? 0) - (b.revision ?? 0);
    const ta = Date.parse(a.metadata?.creationTimestamp ?? '') || 0;
    const tb = Date.parse(b.metadata?.creationTimestamp ?? '') || 0;
    if (ta !== tb) return ta - tb;
    return (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : (a.metadata?.name ?? '') > (b.metadata?.name ?? '') ? 1 : 0;
  });
}

/** Both revisions hold the same data (hash labels first, as upstream's EqualRevision). */
export function equalRevision(a: Readonly<Revision> | undefined, b: Readonly<Revision> | undefined): boolean {
  if (!a || !b) return a === b;
  const ha = a.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
  const hb = b.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
  if (ha !== undefined && hb !== undefined && ha !== hb) return false;
  return goJson(a.data) === goJson(b.data);
}

/** 1 more than the highest revision (1 when there is none); `revs` sorted. */
export function nextRevision(revs: readonly Readonly<Revision>[]): number {
  return revs.length === 0 ? 1 : (revs[revs.length - 1]!.revision ?? 0) + 1;
}

export function maxRevision(revs: readonly Readonly<Revision>[]): number {
  return revs.reduce((m, r) => Math.max(m, r.revision ?? 0), 0);
}

/**
 * A revision owned by `parent` holding `data` (upstream's NewControllerRevision): labels are the
 * template's plus the hash label, the name is `<parent>-<hash>`.
 */
export function newControllerRevision(parent: Owner, templateLabels: Readonly<Record<string, string>> | undefined, data: unknown, revision: number, collisionCount?: number): Revision {
  const hash = hashControllerRevision(goJson(data), collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(parent.metadata.name!, hash),
      namespace: parent.metadata.namespace,
      labels: { ...(templateLabels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ownerReferences: [controllerRef(parent)],
    },
    data: sortKeysDeep(data) as Revision['data'],
    revision,
  };
}

/** Revisions in the parent's namespace that match `selector` and are owned by it or by nobody. */
export function listControllerRevisions(lister: Lister<Revision>, parent: Owner, selector: readonly Requirement[]): Readonly<Revision>[] {
  return lister.list(parent.metadata.namespace).filter((r) => {
    if (!matches(selector, r.metadata?.labels)) return false;
    const ref = controllerOf(r);
    return !ref || ref.uid === parent.metadata.uid;
  });
}

/** Writes to a workload's revisions (upstream's realHistory). */
export class ControllerHistory {
  private readonly revisions;

  constructor(client: RestClient) {
    this.revisions = client.resource<Revision>('apps', 'v1', 'controllerrevisions');
  }

  /**
   * Creates `rev`, renaming it with the collision probe while another revision with different data
   * holds the name. Returns the created (or identical existing) revision and the final collision count.
   */
  async create(parent: Owner, rev: Readonly<Revision>, collisionCount: number): Promise<{ revision: Revision; collisionCount: number }> {
    const ns = parent.metadata.namespace;
    const bytes = goJson(rev.data);
    for (let probe = collisionCount; ; probe++) {
      const hash = hashControllerRevision(bytes, probe);
      const clone = structuredClone(rev) as Revision;
      clone.metadata = { ...clone.metadata, name: controllerRevisionName(parent.metadata.name!, hash), labels: { ...(clone.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash } };
      try {
        return { revision: await this.revisions.create(clone, { namespace: ns }), collisionCount: probe };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const existing = await this.revisions.get(ns, clone.metadata.name!);
        if (goJson(existing.data) === bytes) return { revision: existing, collisionCount: probe };
      }
    }
  }

  /** Sets a revision's number (a rollback makes an old revision the newest). */
  async updateRevision(rev: Readonly<Revision>, revision: number): Promise<Revision> {
    if (rev.revision === revision) return rev as Revision;
    let current = structuredClone(rev) as Revision;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.revisions.update({ ...current, revision });
      } catch (err) {
        if (attempt >= 4 || !(err as { code?: number }).code || (err as { code?: number }).code !== 409) throw err;
        current = await this.revisions.get(rev.metadata?.namespace, rev.metadata!.name!);
      }
    }
  }

  async delete(rev: Readonly<Revision>): Promise<void> {
    await this.revisions.delete(rev.metadata?.namespace, rev.metadata!.name!).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** Adds `parent` as the controller of an orphan revision. */
  async adopt(parent: Owner, rev: Readonly<Revision>): Promise<Revision> {
    const ref = controllerOf(rev);
    if (ref) throw new Error(`attempt to adopt revision owned by ${ref.kind}/${ref.name}`);
    return this.revisions.patch(rev.metadata?.namespace, rev.metadata!.name!, { metadata: { ownerReferences: [controllerRef(parent)], uid: rev.metadata?.uid } }, { type: 'strategic' });
  }

  /** Drops `parent`'s ownerReference; a revision gone or not owned any more is no error. */
  async release(parent: Owner, rev: Readonly<Revision>): Promise<void> {
    await this.revisions
      .patch(rev.metadata?.namespace, rev.metadata!.name!, { metadata: { ownerReferences: [{ $patch: 'delete', uid: parent.metadata.uid }], uid: rev.metadata?.uid } }, { type: 'strategic' })
      .catch((err: unknown) => {
        if (!isNotFound(err) && !isInvalid(err)) throw err;
      });
  }

  /** Updates a revision (e.g. to add a missing label). */
  async update(rev: Revision): Promise<Revision> {
    return this.revisions.update(rev);
  }

  async createRaw(rev: Revision): Promise<Revision> {
    return this.revisions.create(rev, { namespace: rev.metadata?.namespace });
  }

  async get(namespace: string | undefined, name: string): Promise<Revision> {
    return this.revisions.get(namespace, name);
  }
}
