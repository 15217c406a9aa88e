// What the API server itself keeps in place, as upstream's apiserver does through its
// bootstrap controllers: the system namespaces, the `kubernetes` Service with its Endpoints and
// EndpointSlice pointing at this apiserver, and the two system PriorityClasses.

import type { ApiServer } from './server.js';
import { StatusError } from './status.js';
import type { K8sObject } from './watchCache.js';

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface BootstrapOptions {
  /** The address clients reach this apiserver at (the Endpoints' IP). */
  advertiseAddress: string;
  port: number;
  /** The first address of the service range: 10.96.0.1 by default. */
  serviceIP: string;
}

/**
 * Creates `obj` unless it exists (losing a create race is fine); if it exists, `update` may
 * return a changed copy of the current object to write.
 */
export async function ensureObject(api: ApiServer, group: string, plural: string, obj: K8sObject, update?: (current: K8sObject) => K8sObject | undefined): Promise<void> {
  const reg = api.registryFor(group, plural)!;
  const current = await reg.tryGet(obj.metadata.namespace, obj.metadata.name);
  if (!current) {
    reg.prepareForCreate(obj);
    try {
      await reg.create(obj);
    } catch (err) {
      if (!(err instanceof StatusError && err.reason === 'AlreadyExists')) throw err;
    }
    return;
  }
  const next = update?.(structuredClone(current));
  if (next) await reg.update(current, next);
}

export async function bootstrapSystemObjects(api: ApiServer, opts: BootstrapOptions): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) {
    await ensureObject(api, '', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  for (const [name, value, description] of [
    ['system-node-critical', 2000001000, 'Used for system critical pods that must not be moved from their current node.'],
    ['system-cluster-critical', 2000000000, 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.'],
  ] as const) {
    await ensureObject(api, 'scheduling.k8s.io', 'priorityclasses', {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name },
      value,
      description,
      preemptionPolicy: 'PreemptLowerPriority',
    });
  }
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  await ensureObject(
    api,
    '',
    'services',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels },
      spec: {
        type: 'ClusterIP',
        clusterIP: opts.serviceIP,
        clusterIPs: [opts.serviceIP],
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }],
        sessionAffinity: 'None',
      },
    },
    (svc) => {
      // Only the port is reconciled: a clusterIP may not change (after a range change the repair
      // loop reports the old one as out of range, as upstream's does).
      const port = svc.spec?.ports?.[0];
      if (port?.targetPort === opts.port) return undefined;
      svc.spec.ports = [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }];
      return svc;
    },
  );
  const subsets = [{ addresses: [{ ip: opts.advertiseAddress }], ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }] }];
  await ensureObject(
    api,
    '',
    'endpoints',
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets },
    (ep) => (JSON.stringify(ep.subsets) === JSON.stringify(subsets) ? undefined : { ...ep, subsets }),
  );
  const slice = {
    addressType: 'IPv4',
    endpoints: [{ addresses: [opts.advertiseAddress], conditions: { ready: true } }],
    ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }],
  };
  await ensureObject(
    api,
    'discovery.k8s.io',
    'endpointslices',
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
      ...slice,
    },
    (es) => (JSON.stringify(es.endpoints) === JSON.stringify(slice.endpoints) && JSON.stringify(es.ports) === JSON.stringify(slice.ports) ? undefined : { ...es, ...slice }),
  );
}
