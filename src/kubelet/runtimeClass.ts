// The kubelet's RuntimeClass manager (pkg/kubelet/runtimeclass): resolves a pod's
// spec.runtimeClassName to the CRI runtime handler named by the RuntimeClass, from an informer cache.
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { RestClient } from '../client/restClient.js';
import { SharedInformer } from '../client/informer.js';

/** The pod's RuntimeClass does not exist (upstream returns the lister's NotFound). */
export class RuntimeClassNotFoundError extends Error {
  override readonly name = 'RuntimeClassNotFoundError';
  readonly code = 'NotFound';
  constructor(readonly runtimeClassName: string) {
    // The words of an apierrors.NotFound for the `runtimeclass` resource of node.k8s.io.
    super(`runtimeclass.node.k8s.io "${runtimeClassName}" not found`);
  }
}

/** Looks a RuntimeClass up by name; undefined when it does not exist. */
export type RuntimeClassGetter = (name: string) => Readonly<RuntimeClass> | undefined;

/**
 * The handler for `runtimeClassName`: `""` (the runtime's default) when the pod names none,
 * else the RuntimeClass's `handler`. Throws RuntimeClassNotFoundError when the class is missing
 * or being deleted.
 */
export function lookupRuntimeHandler(runtimeClassName: string | undefined | null, get: RuntimeClassGetter): string {
  if (!runtimeClassName) return '';
  const rc = get(runtimeClassName);
  if (!rc || rc.metadata?.deletionTimestamp) throw new RuntimeClassNotFoundError(runtimeClassName);
  return rc.handler;
}

/** Watches RuntimeClasses for the kubelet; lookups before the first list completes report NotFound (the kubelet retries). */
export class RuntimeClassManager {
  private readonly informer: SharedInformer<RuntimeClass>;

  constructor(client: RestClient) {
    this.informer = new SharedInformer<RuntimeClass>(client.resource<RuntimeClass>('node.k8s.io', 'v1', 'runtimeclasses'), { name: 'kubelet-runtimeclasses' });
  }

  start(signal: AbortSignal): void {
    this.informer.start(signal);
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    return this.informer.waitForSync(signal);
  }

  lookupRuntimeHandler(runtimeClassName: string | undefined | null): string {
    return lookupRuntimeHandler(runtimeClassName, (name) => this.informer.get(undefined, name));
  }
}
