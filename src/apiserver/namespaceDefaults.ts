// Keeps, in every namespace, the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap
// that pods mount. Upstream runs these loops in the controller manager (ServiceAccount and
// root-CA-publisher controllers); until k8ts's controller manager lands, the server runs them,
// level-triggered from the namespaces' watch cache, so nothing here holds state of its own.
import { logger } from '../util/log.js';
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
    if (ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return;
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

  private async ensure(plural: string, obj: K8sObject, stale?: (current: K8sObject) => boolean): Promise<void> {
    const reg = this.api.registryFor('', plural)!;
    try {
      const current = await reg.tryGet(obj.metadata.namespace, obj.metadata.name);
      if (!current) {
        reg.prepareForCreate(obj);
        await reg.create(obj);
      } else if (stale?.(current)) {
        await reg.update(current, { ...current, ...obj, metadata: { ...current.metadata } });
      }
    } catch (err) {
      if (err instanceof StatusError && (err.reason === 'AlreadyExists' || err.reason === 'Conflict')) return;
      throw err;
    }
  }
}
