// apps/v1 printers: deployments (READY is ready/desired), replica sets, stateful sets, daemon sets and
// controller revisions.
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import { containerCells, formatLabels, formatLabelSelector, groupKindLower, labelSelectorString } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, printer, SELECTOR_COLUMN } from '../printer.js';

/** spec.replicas defaults to 1 for every apps/v1 workload. */
const DEFAULT_REPLICAS = 1;

export const deploymentPrinter = printer<Deployment>(
  [
    NAME_COLUMN,
    column('Ready', 'string', 'Ready pods of desired pods.'),
    column('Up-to-date', 'string', 'How many pods run the current template.'),
    column('Available', 'string', 'How many pods have been ready for at least minReadySeconds.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (d, ctx) => {
    const [names, images] = containerCells(d.spec?.template?.spec?.containers);
    return [
      d.metadata?.name ?? '',
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? DEFAULT_REPLICAS}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      ageSince(d.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      // Deployments print the raw selector: '' when empty, <invalid> when it cannot be converted.
      labelSelectorString(d.spec?.selector) ?? '<invalid>',
    ];
  },
);

export const replicaSetPrinter = printer<ReplicaSet>(
  [
    NAME_COLUMN,
    column('Desired', 'integer', 'How many pods the replica set should run.'),
    column('Current', 'integer', 'How many pods the replica set runs now.'),
    column('Ready', 'integer', 'How many of its pods are ready.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (rs, ctx) => {
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
    return [
      rs.metadata?.name ?? '',
      rs.spec?.replicas ?? DEFAULT_REPLICAS,
      rs.status?.replicas ?? 0,
      rs.status?.readyReplicas ?? 0,
      ageSince(rs.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      formatLabelSelector(rs.spec?.selector),
    ];
  },
);

export const statefulSetPrinter = printer<StatefulSet>(
  [NAME_COLUMN, column('Ready', 'string', 'Ready pods of desired pods.'), AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN],
  (ss, ctx) => {
    const [names, images] = containerCells(ss.spec?.template?.spec?.containers);
    return [
      ss.metadata?.name ?? '',
      `${ss.status?.readyReplicas ?? 0}/${ss.spec?.replicas ?? DEFAULT_REPLICAS}`,
      ageSince(ss.metadata?.creationTimestamp, ctx.now),
      names,
      images,
    ];
  },
);

export const daemonSetPrinter = printer<DaemonSet>(
  [
    NAME_COLUMN,
    column('Desired', 'integer', 'How many nodes should run the daemon pod.'),
    column('Current', 'integer', 'How many nodes run at least one daemon pod.'),
    column('Ready', 'integer', 'How many nodes run a ready daemon pod.'),
    column('Up-to-date', 'integer', 'How many nodes run the current template.'),
    column('Available', 'integer', 'How many nodes run a daemon pod available for minReadySeconds.'),
    column('Node Selector', 'string', 'The labels a node needs to run the daemon pod.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (ds, ctx) => {
    const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
    const s = ds.status;
    return [
      ds.metadata?.name ?? '',
      s?.desiredNumberScheduled ?? 0,
      s?.currentNumberScheduled ?? 0,
      s?.numberReady ?? 0,
      s?.updatedNumberScheduled ?? 0,
      s?.numberAvailable ?? 0,
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      ageSince(ds.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      formatLabelSelector(ds.spec?.selector),
    ];
  },
);

export const controllerRevisionPrinter = printer<ControllerRevision>(
  [
    NAME_COLUMN,
    column('Controller', 'string', 'The object that owns the revision, as kind.group/name.'),
    column('Revision', 'string', 'The revision number.'),
    AGE_COLUMN,
  ],
  (cr, ctx) => {
    const owner = (cr.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
    let controller = '<none>';
    if (owner) {
      const gk = groupKindLower(owner.apiVersion, owner.kind);
      controller = gk === '' ? owner.name : `${gk}/${owner.name}`;
    }
    return [cr.metadata?.name ?? '', controller, cr.revision ?? 0, ageSince(cr.metadata?.creationTimestamp, ctx.now)];
  },
);
