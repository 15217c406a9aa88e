// A pod's QoS class (upstream's GetPodQOS): Guaranteed when every container limits cpu and memory
// and requests equal limits; BestEffort when nothing is requested or limited; else Burstable.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { milliValue } from './quantity.js';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'] as const;

export function podQOSClass(pod: Readonly<Pod>): QOSClass {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const name of QOS_RESOURCES) {
      const r = milliValue(c.resources?.requests?.[name]);
      if (r > 0) requests.set(name, (requests.get(name) ?? 0) + r);
    }
    let limitsFound = 0;
    for (const name of QOS_RESOURCES) {
      const l = milliValue(c.resources?.limits?.[name]);
      if (l > 0) {
        limitsFound++;
        limits.set(name, (limits.get(name) ?? 0) + l);
      }
    }
    if (limitsFound < QOS_RESOURCES.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, r] of requests) if (limits.get(name) !== r) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
