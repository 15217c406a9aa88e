// NodePorts: a pod asking for host ports only fits a node where none of them is taken (an
// unspecified host IP, 0.0.0.0, conflicts with every IP). Sidecars' ports count too.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { HostPortInfo, podHostPorts, type NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import {
  ActionType,
  errorStatus,
  skip,
  unschedulable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type PluginFactory,
  type PreFilterPlugin,
  type PreFilterResult,
  type QueueingHint,
  type Status,
} from '../framework/types.js';

export const NAME = 'NodePorts';
const PRE_FILTER_STATE_KEY = `PreFilter${NAME}`;
export const REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";

type WantedPort = ReturnType<typeof podHostPorts>[number];

class PreFilterState implements StateData {
  constructor(readonly ports: readonly WantedPort[]) {}
  clone(): StateData {
    return this;
  }
}

/** Whether none of `wanted` conflicts with the ports in use. */
export function fitsPorts(wanted: readonly WantedPort[], inUse: HostPortInfo): boolean {
  return wanted.every((p) => !inUse.checkConflict(p.ip, p.protocol, p.port));
}

class NodePortsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = NAME;

  preFilter(state: CycleState, pod: Readonly<Pod>): { result?: PreFilterResult; status?: Status } {
    const ports = podHostPorts(pod);
    if (ports.length === 0) return { status: skip() };
    state.write(PRE_FILTER_STATE_KEY, new PreFilterState(ports));
    return {};
  }

  filter(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_STATE_KEY);
    if (!s) return errorStatus(`error reading "${PRE_FILTER_STATE_KEY}" from cycleState: not found`);
    // Preemption can free a port, so this is only Unschedulable.
    return fitsPorts(s.ports, nodeInfo.usedPorts) ? undefined : unschedulable(REASON_NODE_PORTS);
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      // Container ports are immutable, so only deletions free them.
      { event: { resource: 'Pod', actionType: ActionType.Delete }, hint: isSchedulableAfterPodDeleted },
      { event: { resource: 'Node', actionType: ActionType.Add } },
    ];
  }
}

/** Deleting a scheduled pod helps only if it held a port the pod wants. */
function isSchedulableAfterPodDeleted(pod: Readonly<Pod>, oldObj: unknown): QueueingHint {
  const deleted = oldObj as Readonly<Pod> | undefined;
  if (!deleted) return 'Queue';
  if (!deleted.spec?.nodeName && !deleted.status?.nominatedNodeName) return 'QueueSkip';
  const freed = podHostPorts(deleted);
  if (freed.length === 0) return 'QueueSkip';
  const inUse = new HostPortInfo();
  for (const p of freed) inUse.add(p.ip, p.protocol, p.port);
  return fitsPorts(podHostPorts(pod), inUse) ? 'QueueSkip' : 'Queue';
}

export const NodePorts: PluginFactory = {
  name: NAME,
  create: () => new NodePortsPlugin(),
};
