// For controller tests: a ControllerContext whose client talks to a real `k8ts server`, so a
// controller under test runs in the test process against the real API, as it will in k8ts.
import { setMaxListeners } from 'node:events';
import { EventRecorder } from '../../src/client/events.js';
import { SharedInformerFactory } from '../../src/client/informerFactory.js';
import { loadKubeconfigConfig } from '../../src/client/config.js';
import { RestClient } from '../../src/client/restClient.js';
import { DEFAULT_OPTIONS, type Controller, type ControllerContext, type ControllerManagerOptions } from '../../src/controllers/controller.js';
import { logger } from '../../src/util/log.js';

export interface Harness {
  ctx: ControllerContext;
  client: RestClient;
  /** Starts the informers and the given controllers; stop() ends them. */
  run(...controllers: Controller[]): void;
  stop(): Promise<void>;
}

export async function controllerHarness(kubeconfig: string, options: Partial<ControllerManagerOptions> = {}): Promise<Harness> {
  const client = new RestClient(await loadKubeconfigConfig({ path: kubeconfig }), { component: 'test-controller', qps: -1 });
  const informers = new SharedInformerFactory(client);
  const recorders: EventRecorder[] = [];
  const ctx: ControllerContext = {
    client,
    informers,
    recorder: (component) => {
      const r = new EventRecorder({ client, component });
      recorders.push(r);
      return r;
    },
    log: logger('test-controllers'),
    options: { ...DEFAULT_OPTIONS, ...options },
  };
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const running: Promise<void>[] = [];
  return {
    ctx,
    client,
    run(...controllers) {
      informers.start(ac.signal);
      for (const c of controllers) running.push(c.run(ac.signal));
    },
    async stop() {
      ac.abort();
      await Promise.allSettled(running);
      informers.shutdown();
      for (const r of recorders) r.shutdown();
      client.close();
    },
  };
}
