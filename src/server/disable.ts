// `k8ts server --disable NAME` (k3s's flag): packaged components the server does not run, so an
// external one can take their place. Each name maps to the controllers it stands for.

import { SERVICE_LB_CONTROLLER } from '../controllers/servicelb/serviceLBController.js';
import { LOCAL_PATH_PROVISIONER_CONTROLLER } from '../controllers/localpathprovisioner/provisioner.js';

export interface DisableableComponent {
  description: string;
  /** Controller-manager controllers (`--controllers` names) the component consists of. */
  controllers: readonly string[];
}

/** Every name `--disable` accepts (k3s's names where k3s has the component). */
export const DISABLEABLE_COMPONENTS: Readonly<Record<string, DisableableComponent>> = {
  coredns: { description: 'the cluster DNS add-on (the coredns Deployment and the kube-dns Service)', controllers: [] },
  servicelb: { description: 'the built-in Service load balancer (LoadBalancer Services stay <pending> for an external one)', controllers: [SERVICE_LB_CONTROLLER] },
  'local-storage': { description: 'the local-path provisioner and its default StorageClass', controllers: [LOCAL_PATH_PROVISIONER_CONTROLLER] },
};

/** Splits repeatable, comma-separated `--disable` values (`--disable a,b --disable c`). */
export function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/**
 * The controllers to leave out for these `--disable` names; throws on a name k8ts does not know,
 * listing those it does.
 */
export function disabledControllers(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const name of splitList(names)) {
    const c = DISABLEABLE_COMPONENTS[name];
    if (!c) throw new Error(`--disable: unknown component "${name}" (known: ${Object.keys(DISABLEABLE_COMPONENTS).sort().join(', ')})`);
    for (const ctl of c.controllers) out.add(ctl);
  }
  return [...out];
}
