import { PERSISTENT_VOLUME_BINDER_DESCRIPTOR } from './persistentvolume/pvController.js';
import { EPHEMERAL_VOLUME_DESCRIPTOR } from './persistentvolume/ephemeralController.js';
import { LOCAL_PATH_PROVISIONER_DESCRIPTOR } from './localpathprovisioner/provisioner.js';
import { SERVICE_LB_CONTROLLER_DESCRIPTOR } from './servicelb/serviceLBController.js';
// The controller manager: every controller, started by name (`--controllers=*,-foo` as upstream),
// on one shared informer factory and one REST client, optionally behind leader election on the
// `kube-system/kube-controller-manager` Lease. Runs in `k8ts server` and as `k8ts controller-manager`.

import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EventRecorder } from '../client/events.js';
import { SharedInformerFactory } from '../client/informerFactory.js';
import { stripManagedFields } from '../client/informer.js';
import { LeaderElector } from '../client/leaderElection.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';
import { DEFAULT_OPTIONS, type Controller, type ControllerContext, type ControllerManagerOptions } from './controller.js';
import { newCronJobController } from './cronjob/cronJobController.js';
import { newDaemonSetController } from './daemonset/daemonSetController.js';
import { newDisruptionController } from './disruption/disruptionController.js';
import { newEndpointsController } from './endpoints/endpointsController.js';
import { newEndpointSliceController } from './endpointslice/endpointSliceController.js';
import { newGarbageCollector } from './garbagecollector/garbageCollector.js';
import { newJobController } from './job/jobController.js';
import { newNamespaceController } from './namespace/namespaceController.js';
import { newNodeIpamController } from './nodeipam/nodeIpamController.js';
import { newNodeLifecycleController } from './nodelifecycle/nodeLifecycleController.js';
import { newTaintEvictionController } from './nodelifecycle/taintEvictionController.js';
import { newPodGC } from './podgc/podGC.js';
import { newRootCACertPublisher } from './rootcacertpublisher/publisher.js';
import { newServiceAccountsController } from './serviceaccount/serviceAccountsController.js';
import { newTTLAfterFinishedController } from './ttlafterfinished/ttlAfterFinishedController.js';
import { newDeploymentController } from './deployment/deploymentController.js';
import { REPLICATION_CONTROLLER_KIND, newReplicaSetController } from './replicaset/replicaSetController.js';
import { newStatefulSetController } from './statefulset/statefulSetController.js';
import { CSR_APPROVING_CONTROLLER, newCSRApprovingController } from './certificates/approver.js';
import { CSR_CLEANER_CONTROLLER, newCSRCleanerController } from './certificates/cleaner.js';
import { CSR_SIGNING_CONTROLLER, newCSRSigningController } from './certificates/signer.js';

const log = logger('controller-manager');

type Constructor = (ctx: ControllerContext) => Controller;

/** Every controller by its upstream `--controllers` name; `disabledByDefault` ones need naming. */
export const CONTROLLERS: ReadonlyArray<{ name: string; alias: string; create: Constructor; disabledByDefault?: boolean }> = [
  { name: 'deployment-controller', alias: 'deployment', create: (ctx) => newDeploymentController(ctx) },
  { name: 'replicaset-controller', alias: 'replicaset', create: (ctx) => newReplicaSetController(ctx) },
  { name: 'replicationcontroller-controller', alias: 'replicationcontroller', create: (ctx) => newReplicaSetController(ctx, REPLICATION_CONTROLLER_KIND) },
  { name: 'daemonset-controller', alias: 'daemonset', create: (ctx) => newDaemonSetController(ctx) },
  { name: 'statefulset-controller', alias: 'statefulset', create: (ctx) => newStatefulSetController(ctx) },
  { name: 'job-controller', alias: 'job', create: (ctx) => newJobController(ctx) },
  { name: 'cronjob-controller', alias: 'cronjob', create: (ctx) => newCronJobController(ctx) },
  { name: 'ttl-after-finished-controller', alias: 'ttl-after-finished', create: (ctx) => newTTLAfterFinishedController(ctx) },
  { name: 'endpoints-controller', alias: 'endpoint', create: (ctx) => newEndpointsController(ctx) },
  { name: 'endpointslice-controller', alias: 'endpointslice', create: (ctx) => newEndpointSliceController(ctx, { maxEndpointsPerSlice: ctx.options.maxEndpointsPerSlice }) },
  { name: 'garbage-collector-controller', alias: 'garbagecollector', create: (ctx) => newGarbageCollector(ctx) },
  { name: 'namespace-controller', alias: 'namespace', create: (ctx) => newNamespaceController(ctx) },
  { name: 'serviceaccount-controller', alias: 'serviceaccount', create: (ctx) => newServiceAccountsController(ctx) },
  { name: 'root-ca-certificate-publisher-controller', alias: 'root-ca-cert-publisher', create: (ctx) => newRootCACertPublisher(ctx) },
  { name: 'pod-garbage-collector-controller', alias: 'podgc', create: (ctx) => newPodGC(ctx) },
  { name: 'node-lifecycle-controller', alias: 'nodelifecycle', create: (ctx) => newNodeLifecycleController(ctx, { nodeStartupGracePeriodMs: ctx.options.nodeStartupGracePeriodMs }) },
  { name: 'taint-eviction-controller', alias: 'taint-eviction-controller', create: (ctx) => newTaintEvictionController(ctx) },
  { name: 'node-ipam-controller', alias: 'nodeipam', create: (ctx) => newNodeIpamController(ctx) },
  { name: 'disruption-controller', alias: 'disruption', create: (ctx) => newDisruptionController(ctx) },
  { name: CSR_APPROVING_CONTROLLER, alias: 'csrapproving', create: (ctx) => newCSRApprovingController(ctx) },
  { name: CSR_SIGNING_CONTROLLER, alias: 'csrsigning', create: (ctx) => newCSRSigningController(ctx) },
  { name: CSR_CLEANER_CONTROLLER, alias: 'csrcleaner', create: (ctx) => newCSRCleanerController(ctx) },
  PERSISTENT_VOLUME_BINDER_DESCRIPTOR,
  EPHEMERAL_VOLUME_DESCRIPTOR,
  LOCAL_PATH_PROVISIONER_DESCRIPTOR,
  SERVICE_LB_CONTROLLER_DESCRIPTOR,
];

/**
 * Resolves `--controllers` (`*` = all enabled by default, `foo` = enable, `-foo` = disable); names
 * are upstream's (`deployment-controller`) or their pre-1.28 aliases (`deployment`).
 */
export function selectControllers(rawSpec: readonly string[], all: typeof CONTROLLERS = CONTROLLERS): string[] {
  const canonical = new Map<string, string>();
  for (const c of all) {
    canonical.set(c.name, c.name);
    canonical.set(c.alias, c.name);
  }
  const spec = rawSpec.map((s) => {
    const neg = s.startsWith('-');
    const name = neg ? s.slice(1) : s;
    if (name === '*') return s;
    const c = canonical.get(name);
    if (!c) throw new Error(`"${name}" is not in the list of known controllers`);
    return neg ? `-${c}` : c;
  });
  const star = spec.includes('*');
  return all
    .filter((c) => {
      if (spec.includes(`-${c.name}`)) return false;
      if (spec.includes(c.name)) return true;
      return star && !c.disabledByDefault;
    })
    .map((c) => c.name);
}

export interface StartControllerManagerOptions {
  client: RestClient;
  controllers?: readonly string[];
  options?: Partial<ControllerManagerOptions>;
  leaderElect?: boolean;
  leaderElection?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
}

export interface RunningControllerManager {
  /** Names of the controllers running. */
  readonly controllers: readonly string[];
  ready(): boolean;
  stop(): Promise<void>;
}

export async function startControllerManager(opts: StartControllerManagerOptions): Promise<RunningControllerManager> {
  const names = selectControllers(opts.controllers ?? ['*']);
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const informers = new SharedInformerFactory(opts.client, { transform: stripManagedFields });
  const recorders = new Map<string, EventRecorder>();
  const ctx: ControllerContext = {
    client: opts.client,
    informers,
    recorder: (component) => {
      let r = recorders.get(component);
      if (!r) recorders.set(component, (r = new EventRecorder({ client: opts.client, component })));
      return r;
    },
    log,
    options: { ...DEFAULT_OPTIONS, ...opts.options },
  };
  let ready = false;
  const running: Promise<void>[] = [];
  const lead = async (signal: AbortSignal) => {
    const controllers = CONTROLLERS.filter((c) => names.includes(c.name)).map((c) => c.create(ctx));
    informers.start(signal);
    await informers.waitForCacheSync(signal);
    if (signal.aborted) return;
    ready = true;
    log.info({ controllers: names }, 'controllers started');
    for (const c of controllers) {
      running.push(
        c.run(signal).catch((err: unknown) => {
          log.error({ err, controller: c.name }, 'controller stopped with an error');
        }),
      );
    }
    await Promise.all(running);
  };
  let electing: Promise<void> | undefined;
  if (opts.leaderElect) {
    const le = opts.leaderElection ?? { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
    const elector = new LeaderElector({
      client: opts.client,
      namespace: 'kube-system',
      name: 'kube-controller-manager',
      identity: `${hostname()}_${randomUUID()}`,
      ...le,
      releaseOnCancel: true,
      callbacks: {
        onStartedLeading: (signal) => lead(signal),
        onStoppedLeading: () => {
          ready = false;
          log.warn('leader election lost');
        },
      },
    });
    electing = elector.run(ac.signal).catch((err: unknown) => log.error({ err }, 'leader election failed'));
  } else {
    void lead(ac.signal).catch((err: unknown) => log.error({ err }, 'controller manager stopped'));
  }
  return {
    controllers: names,
    ready: () => ready,
    async stop() {
      ac.abort();
      await Promise.allSettled(running);
      await electing;
      informers.shutdown();
      // Queued events get a moment to be written, not a say in how long shutdown takes.
      await Promise.race([Promise.allSettled([...recorders.values()].map((r) => r.flush())), new Promise((r) => setTimeout(r, 2000).unref())]);
      for (const r of recorders.values()) r.shutdown();
    },
  };
}
