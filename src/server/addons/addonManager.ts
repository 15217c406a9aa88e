// Keeps the server's add-ons as declared, like kubeadm's addon phase plus the add-on manager's
// modes: at start every `Reconcile` object is server-side applied (so an upgraded k8ts updates its
// image tag) and every `EnsureExists` object is created when missing; a deleted add-on object is
// re-created. Informers (label k8ts.io/addon) → queue of add-on names → reconcile(add-on).
import { isAlreadyExists } from '../../client/apiError.js';
import { SharedInformer } from '../../client/informer.js';
import type { RestClient } from '../../client/restClient.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { newQueue, runQueueWorkers } from '../../controllers/controller.js';
import { logger } from '../../util/log.js';
import { ADDON_LABEL, ADDON_MODE_LABEL, type AddonName, type AddonObject } from './manifests.js';

const log = logger('addon-manager');

export const ADDON_FIELD_MANAGER = 'k8ts-addons';

/** group/version/plural of each add-on kind. */
const RESOURCES: Record<string, { group: string; version: string; plural: string; namespaced: boolean }> = {
  RuntimeClass: { group: 'node.k8s.io', version: 'v1', plural: 'runtimeclasses', namespaced: false },
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true },
};

/** What reconcile does with one object: apply it, create it, or leave it. Pure. */
export function addonAction(obj: AddonObject, exists: boolean, firstPass: boolean): 'apply' | 'create' | 'none' {
  const mode = obj.metadata?.labels?.[ADDON_MODE_LABEL] ?? 'Reconcile';
  if (!exists) return mode === 'EnsureExists' ? 'create' : 'apply';
  return mode === 'Reconcile' && firstPass ? 'apply' : 'none';
}

export interface AddonManagerOptions {
  client: RestClient;
  addons: ReadonlyMap<AddonName, readonly AddonObject[]>;
}

export class AddonManager {
  private readonly queue = newQueue('addon_manager');
  private readonly informers = new Map<string, SharedInformer<KubeObject>>();
  /** Add-ons whose Reconcile objects were applied since this server started. */
  private readonly applied = new Set<string>();
  private readonly abort = new AbortController();
  private running?: Promise<void>;

  constructor(private readonly o: AddonManagerOptions) {
    for (const kind of new Set([...o.addons.values()].flat().map((x) => x.kind!))) {
      const r = RESOURCES[kind];
      if (!r) throw new Error(`the add-on manager does not know the kind ${kind}`);
      const inf = new SharedInformer<KubeObject>(o.client.resource<KubeObject>(r.group, r.version, r.plural, { namespaced: r.namespaced }), {
        labelSelector: ADDON_LABEL,
        name: `addons-${r.plural}`,
      });
      inf.addEventHandler({
        onDelete: (obj) => {
          const addon = obj.metadata?.labels?.[ADDON_LABEL];
          if (addon && o.addons.has(addon as AddonName)) this.queue.add(addon);
        },
      });
      this.informers.set(kind, inf);
    }
  }

  private cached(obj: AddonObject): boolean {
    return this.informers.get(obj.kind!)?.get(obj.metadata?.namespace, obj.metadata!.name!) !== undefined;
  }

  private async reconcile(addon: string, signal: AbortSignal): Promise<void> {
    const objects = this.o.addons.get(addon as AddonName) ?? [];
    const firstPass = !this.applied.has(addon);
    for (const obj of objects) {
      const r = RESOURCES[obj.kind!]!;
      const client = this.o.client.resource<AddonObject & KubeObject>(r.group, r.version, r.plural, { namespaced: r.namespaced });
      const action = addonAction(obj, this.cached(obj), firstPass);
      if (action === 'apply') await client.apply(obj as AddonObject & KubeObject, ADDON_FIELD_MANAGER, { force: true, signal });
      else if (action === 'create') {
        try {
          await client.create(obj as AddonObject & KubeObject, { signal });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      }
      if (action !== 'none') log.info({ addon, kind: obj.kind, name: obj.metadata?.name, action }, 'add-on object applied');
    }
    this.applied.add(addon);
  }

  /** Starts the informers and the loop; every add-on is reconciled once at once. */
  start(): void {
    const signal = this.abort.signal;
    for (const inf of this.informers.values()) inf.start(signal);
    for (const addon of this.o.addons.keys()) this.queue.add(addon);
    this.running = runQueueWorkers(
      {
        name: 'addon_manager',
        queue: this.queue,
        sync: (key, s) =>
          this.reconcile(key, s).catch((err: unknown) => {
            log.warn({ addon: key, err: (err as Error).message }, 'applying an add-on failed; retrying with back-off');
            throw err;
          }),
        workers: 1,
        synced: [...this.informers.values()].map((i) => () => i.hasSynced()),
        log,
      },
      signal,
    );
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('addon manager stopping'));
    for (const inf of this.informers.values()) inf.stop();
    await this.running?.catch(() => undefined);
  }
}
