// Keeps, in every namespace, the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap
// that pods mount, and empties and finalizes namespaces being deleted. Upstream runs these loops
// in the controller manager (ServiceAccount, root-CA-publisher and namespace controllers); until
// k8ts's controller manager lands, the server runs them, level-triggered from the namespaces'
// watch cache, so nothing here holds state of its own.
import { logger } from '../util/log.js';
import { ensureObject } from './bootstrap.js';
import type { ApiServer } from './server.js';
import { StatusError } from './status.js';
import type { K8sObject } from './watchCache.js';

const log = logger('namespace-defaults');

export class NamespaceDefaults {
  private readonly ac = new AbortController();

  constructor(
    private readonly api: ApiServer,
    private readonly caPem: string,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.ac.abort();
  }

  private async run(): Promise<void> {
    const namespaces = this.api.registryFor('', 'namespaces')!;
    while (!this.ac.signal.aborted) {
      try {
        for await (const item of namespaces.watchCache().watch('now', { initial: true, signal: this.ac.signal })) {
          if (item.type === 'ADDED' || item.type === 'MODIFIED') await this.reconcile(item.object);
        }
      } catch (err) {
        if (!this.ac.signal.aborted) log.warn({ err }, 'namespace defaults loop failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async reconcile(ns: K8sObject): Promise<void> {
    if (ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') {
      await this.finalize(ns.metadata.name as string);
      return;
    }
    const namespace = ns.metadata.name as string;
    await this.ensure('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } });
    await this.ensure(
      'configmaps',
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-root-ca.crt', namespace, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } },
        data: { 'ca.crt': this.caPem },
      },
      (cm) => cm.data?.['ca.crt'] !== this.caPem,
    );
  }

  /**
   * Deletes everything in a terminating namespace (every namespaced resource, custom ones too),
   * then removes the `kubernetes` finalizer so the namespace goes. Objects that wait on their own
   * finalizers or on a kubelet keep the namespace until they are gone; it looks again shortly.
   */
  private async finalize(namespace: string): Promise<void> {
    let remaining = 0;
    const seen = new Set<string>();
    for (const t of this.api.resources) {
      if (!t.namespaced || t.storageOf || (t.storage === undefined && !t.custom)) continue;
      const reg = this.api.registryForVersion(t.group, t.version, t.plural);
      if (!reg || seen.has(reg.prefix)) continue;
      seen.add(reg.prefix);
      const list = await reg.store.list(reg.listPrefix(namespace));
      for (const item of list.items) {
        const name = item.key.slice(reg.listPrefix(namespace).length);
        try {
          const { gone } = await reg.delete(namespace, name, {});
          if (!gone) remaining++;
        } catch (err) {
          if (!(err instanceof StatusError && err.reason === 'NotFound')) remaining++;
        }
      }
    }
    if (remaining > 0) {
      const retry = setTimeout(() => {
        if (!this.ac.signal.aborted) void this.finalize(namespace).catch((err: unknown) => log.warn({ err, namespace }, 'namespace cleanup failed'));
      }, 2000);
      retry.unref();
      return;
    }
    const nsReg = this.api.registryFor('', 'namespaces')!;
    const current = await nsReg.tryGet(undefined, namespace);
    if (!current) return;
    try {
      if ((current.spec?.finalizers ?? []).includes('kubernetes')) {
        const next = structuredClone(current);
        next.spec.finalizers = (next.spec.finalizers as string[]).filter((f) => f !== 'kubernetes');
        await nsReg.update(current, next);
        return; // the update comes back through the watch and the namespace is deleted then
      }
      if ((current.spec?.finalizers ?? []).length === 0 && (current.metadata.finalizers ?? []).length === 0) {
        await nsReg.delete(undefined, namespace, { preconditions: { uid: current.metadata.uid } });
      }
    } catch (err) {
      if (!(err instanceof StatusError && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
    }
  }

  private async ensure(plural: string, obj: K8sObject, stale?: (current: K8sObject) => boolean): Promise<void> {
    try {
      await ensureObject(this.api, '', plural, obj, (current) =>
        stale?.(current) ? { ...current, ...obj, metadata: { ...current.metadata } } : undefined,
      );
    } catch (err) {
      // Someone else wrote it meanwhile; the next watch event brings this loop back.
      if (err instanceof StatusError && err.reason === 'Conflict') return;
      throw err;
    }
  }
}
