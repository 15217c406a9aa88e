// `kubectl get pods`: NAME READY STATUS RESTARTS AGE (wide: IP NODE NOMINATED NODE READINESS GATES),
// with upstream's status reason: Init:N/M, Init:<reason>, the last container's waiting or terminated
// reason, Completed/NotReady/Running for sidecar pods, SchedulingGated, Terminating, Unknown.
import type { Container, ContainerStatus, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { ageSince, humanDuration, parseTime } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer, wide, type PrintContext, type PrintedRow } from '../printer.js';
import type { TableRowCondition } from '../types.js';

/** The pod's status reason for a pod scheduling gates hold back. */
export const REASON_SCHEDULING_GATED = 'SchedulingGated';
/** The status reason the node lifecycle controller sets on pods of an unreachable node. */
export const REASON_NODE_LOST = 'NodeLost';

const SUCCEEDED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
const FAILED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];

const columns = [
  NAME_COLUMN,
  column('Ready', 'string', 'How many of the pod’s containers are ready, of how many.'),
  column('Status', 'string', 'A one-word summary of the pod’s containers: the reason a container waits or ended, or the pod phase.'),
  column('Restarts', 'string', 'How often the pod’s containers restarted, and how long ago the last one did.'),
  AGE_COLUMN,
  wide('IP', 'string', 'The pod’s first IP address.'),
  wide('Node', 'string', 'The node the pod is bound to.'),
  wide('Nominated Node', 'string', 'The node the scheduler preempted pods on for this pod, while the pod waits for it.'),
  wide('Readiness Gates', 'string', 'How many of the pod’s readiness gates hold, of how many.'),
];

function isRestartable(c: Container | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (b === undefined) return a;
  return a === undefined || a < b ? b : a;
}

function lastTerminated(s: ContainerStatus): number | undefined {
  const t = s.lastState?.terminated;
  // A terminated record without finishedAt is Go's zero time: never "later" than anything.
  return t ? parseTime(t.finishedAt) : undefined;
}

function conditionTrue(conditions: readonly PodCondition[] | undefined, type: string): boolean {
  const c = (conditions ?? []).find((x) => x.type === type);
  return c?.status === 'True';
}

function readinessGates(pod: Readonly<Pod>): string {
  const gates = pod.spec?.readinessGates ?? [];
  if (gates.length === 0) return '<none>';
  let holding = 0;
  for (const g of gates) {
    const c = (pod.status?.conditions ?? []).find((x) => x.type === g.conditionType);
    if (c?.status === 'True') holding++;
  }
  return `${holding}/${gates.length}`;
}

function printPod(pod: Readonly<Pod>, ctx: PrintContext): PrintedRow {
  const spec = pod.spec;
  const status = pod.status ?? {};
  const specInit = spec?.initContainers ?? [];
  let restarts = 0;
  let sidecarRestarts = 0;
  let totalContainers = spec?.containers?.length ?? 0;
  let readyContainers = 0;
  let lastRestart: number | undefined;
  let lastSidecarRestart: number | undefined;

  const phase = status.phase ?? '';
  let reason = status.reason || phase;
  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === REASON_SCHEDULING_GATED) reason = REASON_SCHEDULING_GATED;
  }

  const initByName = new Map<string, Container>();
  for (const c of specInit) {
    initByName.set(c.name, c);
    if (isRestartable(c)) totalContainers++;
  }

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    const sidecar = isRestartable(initByName.get(cs.name));
    restarts += cs.restartCount ?? 0;
    lastRestart = later(lastRestart, lastTerminated(cs));
    if (sidecar) {
      sidecarRestarts += cs.restartCount ?? 0;
      lastSidecarRestart = later(lastSidecarRestart, lastTerminated(cs));
    }
    const terminated = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      if (!terminated.reason) {
        reason = terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode ?? 0}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${specInit.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status.conditions, 'Initialized')) {
    // Only sidecars' restarts count once the pod is initialized; plain init containers are done.
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      restarts += cs.restartCount ?? 0;
      lastRestart = later(lastRestart, lastTerminated(cs));
      const waiting = cs.state?.waiting;
      const terminated = cs.state?.terminated;
      if (waiting?.reason) {
        reason = waiting.reason;
      } else if (terminated?.reason) {
        reason = terminated.reason;
      } else if (terminated) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      } else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod whose last container completed while another still runs is not "Completed".
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(status.conditions, 'Ready') ? 'Running' : 'NotReady';
  }

  const deleting = pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
  if (deleting && status.reason === REASON_NODE_LOST) reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) restartsCell = `${restarts} (${humanDuration(ctx.now.getTime() - lastRestart)} ago)`;

  const podIP = status.podIP || status.podIPs?.[0]?.ip || '<none>';
  const cells = [
    pod.metadata?.name ?? '',
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsCell,
    ageSince(pod.metadata?.creationTimestamp, ctx.now),
    podIP,
    spec?.nodeName || '<none>',
    status.nominatedNodeName || '<none>',
    readinessGates(pod),
  ];
  if (phase === 'Succeeded') return { cells, conditions: SUCCEEDED.map((c) => ({ ...c })) };
  if (phase === 'Failed') return { cells, conditions: FAILED.map((c) => ({ ...c })) };
  return { cells };
}

export const podPrinter = printer<Pod>(columns, printPod);
