// `kubectl get nodes`: NAME STATUS ROLES AGE VERSION (wide: INTERNAL-IP EXTERNAL-IP OS-IMAGE
// KERNEL-VERSION CONTAINER-RUNTIME). STATUS is Ready/NotReady/Unknown, plus SchedulingDisabled when cordoned.
import type { Node } from 'kubernetes-types/core/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer, wide, type PrintContext } from '../printer.js';
import type { TableCell } from '../types.js';

/** Labels `node-role.kubernetes.io/<role>` name a role each; so does the legacy `kubernetes.io/role=<role>`. */
export const NODE_ROLE_LABEL_PREFIX = 'node-role.kubernetes.io/';
export const LEGACY_NODE_ROLE_LABEL = 'kubernetes.io/role';

const columns = [
  NAME_COLUMN,
  column('Status', 'string', 'Whether the node is ready, and whether it takes new pods.'),
  column('Roles', 'string', 'The roles the node’s labels give it.'),
  AGE_COLUMN,
  column('Version', 'string', 'The kubelet version the node reports.'),
  wide('Internal-IP', 'string', 'The node’s first InternalIP address.'),
  wide('External-IP', 'string', 'The node’s first ExternalIP address.'),
  wide('OS-Image', 'string', 'The operating system image the node reports.'),
  wide('Kernel-Version', 'string', 'The kernel version the node reports.'),
  wide('Container-Runtime', 'string', 'The container runtime and version the node reports.'),
];

/** The node's roles, sorted and deduplicated. */
export function nodeRoles(node: Readonly<Node>): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_LABEL_PREFIX)) {
      const role = k.slice(NODE_ROLE_LABEL_PREFIX.length);
      if (role !== '') roles.add(role);
    } else if (k === LEGACY_NODE_ROLE_LABEL && v !== '') {
      roles.add(v);
    }
  }
  return [...roles].sort();
}

function address(node: Readonly<Node>, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? '<none>';
}

function printNode(node: Readonly<Node>, ctx: PrintContext): TableCell[] {
  // Only the Ready condition counts; a later duplicate of it wins, as in upstream's condition map.
  const ready = (node.status?.conditions ?? []).filter((c) => c.type === 'Ready').at(-1);
  const status = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  const roles = nodeRoles(node).join(',');
  const info = node.status?.nodeInfo;
  return [
    node.metadata?.name ?? '',
    status.join(','),
    roles === '' ? '<none>' : roles,
    ageSince(node.metadata?.creationTimestamp, ctx.now),
    info?.kubeletVersion ?? '',
    address(node, 'InternalIP'),
    address(node, 'ExternalIP'),
    info?.osImage || '<unknown>',
    info?.kernelVersion || '<unknown>',
    info?.containerRuntimeVersion || '<unknown>',
  ];
}

export const nodePrinter = printer<Node>(columns, printNode);
