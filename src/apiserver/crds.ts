// Serving CustomResourceDefinitions, as upstream's apiextensions-apiserver does inside the
// apiserver: each served version of a CRD becomes a resource (REST, discovery, OpenAPI, tables),
// the CRD's status says its names are accepted and it is Established, and deleting a CRD first
// deletes its custom resources (finalizer customresourcecleanup.apiextensions.k8s.io).
// Level-triggered from the CRDs' watch cache; everything is rebuilt from the API on restart.

import { ALL_VERBS, type ResourceType } from '../api/catalog.js';
import { addCustomResourceSchema, removeCustomResourceSchema } from '../api/openapi/index.js';
import { logger } from '../util/log.js';
import { nowTimestamp } from './registry.js';
import type { ApiServer } from './server.js';
import { StatusError } from './status.js';
import type { K8sObject } from './watchCache.js';

const log = logger('crd');
export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

type Obj = Record<string, any>;

/** The resource types a CRD serves (one per served version). */
export function typesOf(crd: K8sObject): ResourceType[] {
  const spec = crd.spec as Obj | undefined;
  if (!spec?.group || !spec.names?.plural || !spec.names?.kind) return [];
  const names = spec.names as Obj;
  return ((spec.versions ?? []) as Obj[])
    .filter((v) => v.served !== false && v.name)
    .map((v) => {
      const subs: string[] = [];
      const sr = v.subresources ?? spec.subresources;
      if (sr?.status) subs.push('status');
      if (sr?.scale) subs.push('scale');
      const t: ResourceType = {
        group: spec.group,
        version: v.name,
        kind: names.kind,
        plural: names.plural,
        singular: names.singular || String(names.kind).toLowerCase(),
        namespaced: spec.scope !== 'Cluster',
        verbs: ALL_VERBS,
        storage: `${spec.group}/${names.plural}`,
        custom: {
          crd: crd.metadata.name,
          schema: v.schema?.openAPIV3Schema ?? spec.validation?.openAPIV3Schema,
          printerColumns: v.additionalPrinterColumns ?? spec.additionalPrinterColumns,
        },
      };
      if (names.shortNames?.length) t.shortNames = names.shortNames;
      if (names.categories?.length) t.categories = names.categories;
      if (subs.length) t.subresources = subs;
      if (sr?.scale) {
        t.scale = {
          specReplicasPath: sr.scale.specReplicasPath,
          statusReplicasPath: sr.scale.statusReplicasPath,
          labelSelectorPath: sr.scale.labelSelectorPath ?? '',
        };
      }
      return t;
    });
}

export class CustomResourceDefinitions {
  private readonly ac = new AbortController();
  /** CRD name → the types it currently serves. */
  private readonly served = new Map<string, ResourceType[]>();

  constructor(private readonly api: ApiServer) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.ac.abort();
  }

  /** Resolves once every CRD that exists now is served (so a restart serves CRs from the first request). */
  async ready(): Promise<void> {
    const reg = this.api.registryFor('apiextensions.k8s.io', 'customresourcedefinitions')!;
    const snap = await reg.watchCache().snapshot();
    for (const crd of snap.items) this.serve(crd);
  }

  private async run(): Promise<void> {
    const reg = this.api.registryFor('apiextensions.k8s.io', 'customresourcedefinitions')!;
    while (!this.ac.signal.aborted) {
      try {
        for await (const item of reg.watchCache().watch('now', { initial: true, signal: this.ac.signal })) {
          if (item.type === 'BOOKMARK' || item.type === 'ERROR') continue;
          if (item.type === 'DELETED') this.unserve(item.object.metadata.name);
          else await this.reconcile(item.object);
        }
      } catch (err) {
        if (!this.ac.signal.aborted) log.warn({ err }, 'CRD loop failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private serve(crd: K8sObject): void {
    const types = typesOf(crd);
    const before = this.served.get(crd.metadata.name) ?? [];
    for (const old of before) {
      if (!types.some((t) => t.group === old.group && t.version === old.version && t.plural === old.plural)) {
        this.api.removeCustomResource(old.group, old.version, old.plural);
        removeCustomResourceSchema(old.group, old.version, old.kind);
      }
    }
    for (const t of types) {
      this.api.setCustomResource(t);
      addCustomResourceSchema(t.group, t.version, t.kind, t.plural, t.namespaced, t.custom?.schema);
    }
    this.served.set(crd.metadata.name, types);
  }

  private unserve(name: string): void {
    for (const t of this.served.get(name) ?? []) {
      this.api.removeCustomResource(t.group, t.version, t.plural);
      removeCustomResourceSchema(t.group, t.version, t.kind);
    }
    this.served.delete(name);
  }

  private async reconcile(crd: K8sObject): Promise<void> {
    const reg = this.api.registryFor('apiextensions.k8s.io', 'customresourcedefinitions')!;
    try {
      if (crd.metadata.deletionTimestamp) {
        await this.cleanUp(crd);
        return;
      }
      this.serve(crd);
      const status = establishedStatus(crd);
      const finalizers: string[] = crd.metadata.finalizers ?? [];
      const needsFinalizer = !finalizers.includes(CRD_CLEANUP_FINALIZER);
      if (JSON.stringify(stripTimes(status)) === JSON.stringify(stripTimes(crd.status ?? {})) && !needsFinalizer) return;
      const current = await reg.tryGet(undefined, crd.metadata.name);
      if (!current || current.metadata.deletionTimestamp) return;
      if (needsFinalizer) {
        const next = structuredClone(current);
        next.metadata.finalizers = [...(next.metadata.finalizers ?? []), CRD_CLEANUP_FINALIZER];
        await reg.update(current, next);
        return; // the update comes back through the watch, and the status follows
      }
      const next = structuredClone(current);
      next.status = status;
      await reg.update(current, next, { subresource: 'status' });
    } catch (err) {
      if (err instanceof StatusError && (err.reason === 'Conflict' || err.reason === 'NotFound')) return;
      log.warn({ err, crd: crd.metadata.name }, 'could not reconcile CRD');
    }
  }

  /** Deletes every custom resource of a CRD being deleted, then lets the CRD go. */
  private async cleanUp(crd: K8sObject): Promise<void> {
    const types = this.served.get(crd.metadata.name) ?? typesOf(crd);
    const storage = types[0]?.storage;
    if (storage) {
      const store = this.api.registryFor('apiextensions.k8s.io', 'customresourcedefinitions')!.store;
      const prefix = `/registry/${storage}/`;
      for (;;) {
        const page = await store.list(prefix, { limit: 500 });
        for (const item of page.items) await store.delete(item.key);
        if (!page.continue) break;
      }
    }
    this.unserve(crd.metadata.name);
    const reg = this.api.registryFor('apiextensions.k8s.io', 'customresourcedefinitions')!;
    const current = await reg.tryGet(undefined, crd.metadata.name);
    if (!current) return;
    const next = structuredClone(current);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f: string) => f !== CRD_CLEANUP_FINALIZER);
    await reg.update(current, next);
  }
}

function establishedStatus(crd: K8sObject): Obj {
  const spec = crd.spec as Obj;
  const old = (crd.status?.conditions ?? []) as Obj[];
  const since = (type: string) => old.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime ?? nowTimestamp();
  const storage = ((spec.versions ?? []) as Obj[]).find((v) => v.storage)?.name;
  const stored = new Set<string>([...(crd.status?.storedVersions ?? []), ...(storage ? [storage] : [])]);
  return {
    acceptedNames: { ...spec.names, singular: spec.names.singular || String(spec.names.kind).toLowerCase() },
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: since('NamesAccepted'), reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: since('Established'), reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    storedVersions: [...stored],
  };
}

function stripTimes(status: Obj): Obj {
  return { ...status, conditions: (status.conditions ?? []).map((c: Obj) => ({ ...c, lastTransitionTime: undefined })) };
}
