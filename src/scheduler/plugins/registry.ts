// Every in-tree plugin by upstream name. Plugins that write to the cluster (binder, preemption,
// volume binding) are built over the scheduler's API and the profile they run in.

import type { SchedulerAPI } from '../api.js';
import type { Framework } from '../framework/runtime.js';
import type { PluginFactory } from '../framework/types.js';
import type { Nominator } from '../nominator.js';
import { defaultBinder } from './defaultBinder.js';
import { defaultPreemption } from './defaultPreemption.js';
import { ImageLocality } from './imageLocality.js';
import { InterPodAffinity } from './interPodAffinity.js';
import { NodeAffinity } from './nodeAffinity.js';
import { NodeName } from './nodeName.js';
import { NodePorts } from './nodePorts.js';
import { NodeResourcesBalancedAllocation } from './nodeResourcesBalancedAllocation.js';
import { NodeResourcesFit } from './nodeResourcesFit.js';
import { NodeUnschedulable } from './nodeUnschedulable.js';
import { PodTopologySpread } from './podTopologySpread.js';
import { PrioritySort } from './prioritySort.js';
import { SchedulingGates } from './schedulingGates.js';
import { TaintToleration } from './taintToleration.js';
import { volumeBindingWith, type VolumeBinder } from './volumeBinding.js';
import { VolumeRestrictions } from './volumeRestrictions.js';
import { VolumeZone } from './volumeZone.js';

export interface RegistryDeps {
  api: SchedulerAPI;
  nominator: Nominator;
  /** The framework of the profile named `schedulerName` (built after its plugins). */
  framework(schedulerName: string): Framework;
}

/** VolumeBinding's writes through the scheduler's API: the selected-node annotation and PV pre-binding. */
function apiVolumeBinder(api: SchedulerAPI): VolumeBinder {
  return {
    async setSelectedNode(claim, nodeName) {
      if (!api.annotateClaim) throw new Error('this scheduler cannot annotate claims');
      await api.annotateClaim(claim.namespace, claim.name, { 'volume.kubernetes.io/selected-node': nodeName });
    },
    async bindVolume(pvName, claim) {
      if (!api.bindVolume) throw new Error('this scheduler cannot bind volumes');
      await api.bindVolume(pvName, claim.namespace, claim.name);
    },
  };
}

/** The plugin factories for one profile. */
export function pluginRegistry(deps: RegistryDeps): (schedulerName: string) => Map<string, PluginFactory> {
  return (schedulerName) => {
    const factories: PluginFactory[] = [
      PrioritySort,
      SchedulingGates,
      NodeName,
      NodeUnschedulable,
      NodeResourcesFit,
      NodeResourcesBalancedAllocation,
      NodePorts,
      TaintToleration,
      NodeAffinity,
      ImageLocality,
      PodTopologySpread,
      InterPodAffinity,
      VolumeRestrictions,
      VolumeZone,
      volumeBindingWith(apiVolumeBinder(deps.api)),
      defaultBinder(deps.api),
      defaultPreemption({ api: deps.api, nominator: deps.nominator, framework: () => deps.framework(schedulerName) }),
    ];
    return new Map(factories.map((f) => [f.name, f]));
  };
}
