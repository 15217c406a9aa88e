// The root CA publisher (upstream's root-ca-certificate-publisher-controller): a ConfigMap
// `kube-root-ca.crt` in every namespace holding the cluster CA (`ca.crt`) that pods use to verify
// the API server; edited or deleted, it is put back.
import type { ConfigMap, Namespace } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists, isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { newQueue, runQueueWorkers, type Controller, type ControllerContext } from '../controller.js';
import { isNamespaceTerminating } from '../namespaceTerminating.js';

export const ROOT_CA_CERT_PUBLISHER_CONTROLLER = 'root-ca-certificate-publisher-controller';
export const ROOT_CA_CONFIGMAP_NAME = 'kube-root-ca.crt';
export const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
export const DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** The ConfigMap as it should be, given the current one (undefined: create); undefined result: nothing to change. */
export function desiredRootCAConfigMap(current: Readonly<ConfigMap> | undefined, namespace: string, caPem: string): ConfigMap | undefined {
  const data = { 'ca.crt': caPem };
  if (!current) {
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP_NAME, namespace, annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } }, data };
  }
  const sameData = JSON.stringify(Object.entries(current.data ?? {}).sort()) === JSON.stringify(Object.entries(data));
  if (sameData && (current.metadata?.annotations?.[DESCRIPTION_ANNOTATION] ?? '').length > 0) return undefined;
  const next = structuredClone(current) as ConfigMap;
  next.data = data;
  next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [DESCRIPTION_ANNOTATION]: DESCRIPTION } };
  return next;
}

export function newRootCACertPublisher(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: 'root-ca-cert-publisher' });
  const queue = newQueue('root_ca_cert_publisher');
  const caPem = ctx.options.rootCAPem;
  const namespaces = ctx.informers.informerFor<Namespace & KubeObject>('', 'v1', 'namespaces');
  // Only the one ConfigMap name matters; a field selector keeps every other ConfigMap out of memory.
  const configMaps = ctx.informers.informerFor<ConfigMap & KubeObject>('', 'v1', 'configmaps', { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP_NAME}` });
  const client = ctx.client.resource<ConfigMap>('', 'v1', 'configmaps');

  const onConfigMap = (cm: Readonly<ConfigMap>) => {
    if (cm.metadata?.name === ROOT_CA_CONFIGMAP_NAME && cm.metadata.namespace) queue.add(cm.metadata.namespace);
  };
  configMaps.addEventHandler({ onUpdate: (_o, cm) => onConfigMap(cm), onDelete: onConfigMap });
  namespaces.addEventHandler({
    onAdd: (ns) => queue.add(ns.metadata!.name!),
    onUpdate: (_o, ns) => {
      if (ns.status?.phase === 'Active') queue.add(ns.metadata!.name!);
    },
  });

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    if (!caPem) return;
    const current = configMaps.get(key, ROOT_CA_CONFIGMAP_NAME);
    const want = desiredRootCAConfigMap(current, key, caPem);
    if (!want) return;
    try {
      if (!current) await client.create(want, { signal });
      else await client.update(want, { signal });
    } catch (err) {
      // A namespace gone or being deleted needs no CA; a create racing another writer is fine.
      if (!current && (isNotFound(err) || isNamespaceTerminating(err))) return;
      if (!current && isAlreadyExists(err)) {
        // Someone else created it: check its content once our cache has it.
        queue.addAfter(key, 1000);
        return;
      }
      throw err;
    }
  }

  return {
    name: ROOT_CA_CERT_PUBLISHER_CONTROLLER,
    async run(signal) {
      if (!caPem) log.warn('no root CA (rootCAPem) configured; kube-root-ca.crt will not be published');
      await runQueueWorkers({ name: 'root_ca_cert_publisher', queue, sync, workers: 1, synced: [() => configMaps.hasSynced(), () => namespaces.hasSynced()], log }, signal);
    },
  };
}
