// The ServiceAccount controller (upstream's serviceaccount-controller): every active namespace has
// a `default` ServiceAccount; one deleted is created again.
import type { Namespace, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { newQueue, runQueueWorkers, type Controller, type ControllerContext } from '../controller.js';
import { isNamespaceTerminating } from '../namespaceTerminating.js';

export const SERVICE_ACCOUNT_CONTROLLER = 'serviceaccount-controller';
/** The ServiceAccounts every namespace gets (upstream's DefaultServiceAccountsControllerOptions). */
export const SERVICE_ACCOUNTS_TO_ENSURE: readonly string[] = ['default'];

export function newServiceAccountsController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: 'serviceaccount' });
  const queue = newQueue('serviceaccount');
  const namespaces = ctx.informers.informerFor<Namespace & KubeObject>('', 'v1', 'namespaces');
  const serviceAccounts = ctx.informers.informerFor<ServiceAccount & KubeObject>('', 'v1', 'serviceaccounts');
  const client = ctx.client.resource<ServiceAccount>('', 'v1', 'serviceaccounts');

  namespaces.addEventHandler({ onAdd: (ns) => queue.add(ns.metadata!.name!), onUpdate: (_o, ns) => queue.add(ns.metadata!.name!) });
  serviceAccounts.addEventHandler({
    onDelete: (sa) => {
      if (sa.metadata?.namespace) queue.add(sa.metadata.namespace);
    },
  });

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const ns = namespaces.get(undefined, key);
    if (!ns) return;
    // A namespace being deleted gets nothing new (it would refuse it anyway).
    if (ns.status?.phase !== 'Active' || ns.metadata?.deletionTimestamp) return;
    const failures: string[] = [];
    for (const name of SERVICE_ACCOUNTS_TO_ENSURE) {
      if (serviceAccounts.get(key, name)) continue;
      try {
        await client.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: key } }, { signal });
      } catch (err) {
        if (isAlreadyExists(err) || isNamespaceTerminating(err)) continue;
        failures.push((err as Error).message);
      }
    }
    if (failures.length) throw new Error(failures.length === 1 ? failures[0] : `[${failures.join(', ')}]`);
  }

  return {
    name: SERVICE_ACCOUNT_CONTROLLER,
    run: (signal) => runQueueWorkers({ name: 'serviceaccount', queue, sync, workers: 1, synced: [() => namespaces.hasSynced(), () => serviceAccounts.hasSynced()], log }, signal),
  };
}
