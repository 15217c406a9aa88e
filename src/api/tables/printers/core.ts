// Printers for the smaller core/v1 kinds: configmaps, secrets, service accounts, namespaces, pod templates,
// replication controllers, resource quotas and component statuses.
import type {
  ComponentStatus,
  ConfigMap,
  Namespace,
  PodTemplate,
  ReplicationController,
  ResourceQuota,
  Secret,
  ServiceAccount,
} from 'kubernetes-types/core/v1.js';
import { containerCells, formatLabels } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, printer, SELECTOR_COLUMN } from '../printer.js';
import { canonicalQuantity } from '../../quantity.js';

export const configMapPrinter = printer<ConfigMap>(
  [NAME_COLUMN, column('Data', 'string', 'How many keys the configmap holds (data and binaryData together).'), AGE_COLUMN],
  (cm, ctx) => [
    cm.metadata?.name ?? '',
    Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length,
    ageSince(cm.metadata?.creationTimestamp, ctx.now),
  ],
);

export const secretPrinter = printer<Secret>(
  [
    NAME_COLUMN,
    column('Type', 'string', 'The kind of secret, which fixes the keys it must hold.'),
    column('Data', 'string', 'How many keys the secret holds.'),
    AGE_COLUMN,
  ],
  (s, ctx) => [s.metadata?.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, ageSince(s.metadata?.creationTimestamp, ctx.now)],
);

export const serviceAccountPrinter = printer<ServiceAccount>(
  [NAME_COLUMN, column('Secrets', 'string', 'How many secrets the service account lists.'), AGE_COLUMN],
  (sa, ctx) => [sa.metadata?.name ?? '', (sa.secrets ?? []).length, ageSince(sa.metadata?.creationTimestamp, ctx.now)],
);

export const namespacePrinter = printer<Namespace>(
  [NAME_COLUMN, column('Status', 'string', 'The namespace’s lifecycle phase: Active or Terminating.'), AGE_COLUMN],
  (ns, ctx) => [ns.metadata?.name ?? '', ns.status?.phase ?? '', ageSince(ns.metadata?.creationTimestamp, ctx.now)],
);

export const podTemplatePrinter = printer<PodTemplate>(
  [
    NAME_COLUMN,
    column('Containers', 'string', 'The names of the containers in the template.'),
    column('Images', 'string', 'The images the containers of the template run.'),
    column('Pod Labels', 'string', 'The labels pods made from the template carry.'),
  ],
  (pt) => {
    const [names, images] = containerCells(pt.template?.spec?.containers);
    return [pt.metadata?.name ?? '', names, images, formatLabels(pt.template?.metadata?.labels)];
  },
);

export const replicationControllerPrinter = printer<ReplicationController>(
  [
    NAME_COLUMN,
    column('Desired', 'integer', 'How many pods the controller should run.'),
    column('Current', 'integer', 'How many pods the controller runs now.'),
    column('Ready', 'integer', 'How many of its pods are ready.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (rc, ctx) => {
    const [names, images] = containerCells(rc.spec?.template?.spec?.containers);
    return [
      rc.metadata?.name ?? '',
      rc.spec?.replicas ?? 1, // defaulted to 1
      rc.status?.replicas ?? 0,
      rc.status?.readyReplicas ?? 0,
      ageSince(rc.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      formatLabels(rc.spec?.selector),
    ];
  },
);

/** REQUEST and LIMIT cells: `name: used/hard` for each hard limit, sorted; `limits.*` go to LIMIT. */
export function quotaCells(rq: Readonly<ResourceQuota>): [string, string] {
  const hard = rq.status?.hard ?? {};
  const used = rq.status?.used ?? {};
  const requests: string[] = [];
  const limits: string[] = [];
  for (const name of Object.keys(hard).sort()) {
    const text = `${name}: ${canonicalQuantity(used[name])}/${canonicalQuantity(hard[name])}`;
    const dot = name.indexOf('.');
    (dot > 0 && name.slice(0, dot) === 'limits' ? limits : requests).push(text);
  }
  return [requests.join(', '), limits.join(', ')];
}

export const resourceQuotaPrinter = printer<ResourceQuota>(
  [
    NAME_COLUMN,
    column('Request', 'string', 'Used and hard amounts of the quota’s non-limit resources (requests, counts).'),
    column('Limit', 'string', 'Used and hard amounts of the quota’s limits.* resources.'),
    AGE_COLUMN,
  ],
  (rq, ctx) => [rq.metadata?.name ?? '', ...quotaCells(rq), ageSince(rq.metadata?.creationTimestamp, ctx.now)],
);

export const componentStatusPrinter = printer<ComponentStatus>(
  [
    NAME_COLUMN,
    column('Status', 'string', 'Healthy, Unhealthy or Unknown, from the component’s Healthy condition.'),
    column('Message', 'string', 'The message of the component’s Healthy condition.'),
    column('Error', 'string', 'The error of the component’s Healthy condition.'),
  ],
  (cs) => {
    const healthy = (cs.conditions ?? []).find((c) => c.type === 'Healthy');
    const status = healthy === undefined ? 'Unknown' : healthy.status === 'True' ? 'Healthy' : 'Unhealthy';
    return [cs.metadata?.name ?? '', status, healthy?.message ?? '', healthy?.error ?? ''];
  },
);
