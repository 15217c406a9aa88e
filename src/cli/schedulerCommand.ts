// `k8ts scheduler`: the scheduler as its own process, like kube-scheduler.
import { readFile } from 'node:fs/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadKubeconfigConfig } from '../client/config.js';
import { RestClient } from '../client/restClient.js';
import { parseSchedulerConfig } from '../scheduler/config.js';
import { ConfigError } from '../scheduler/framework/types.js';
import { startScheduler } from '../scheduler/run.js';
import { startComponentServer } from '../util/componentServer.js';

export interface SchedulerCommandOptions {
  kubeconfig?: string;
  config?: string;
  leaderElect?: boolean;
  securePort: number;
  bindAddress: string;
}

export async function runSchedulerCommand(opts: SchedulerCommandOptions): Promise<void> {
  let config;
  try {
    config = parseSchedulerConfig(opts.config ? await readFile(opts.config, 'utf8') : undefined);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Error: invalid scheduler configuration${opts.config ? ` in ${opts.config}` : ''}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const kubeconfig = opts.kubeconfig ?? config.clientConnection.kubeconfig;
  const client = new RestClient(await loadKubeconfigConfig(kubeconfig ? { path: kubeconfig } : {}), { component: 'kube-scheduler', qps: config.clientConnection.qps, burst: config.clientConnection.burst });
  let running;
  try {
    running = await startScheduler({ client, config, ...(opts.leaderElect !== undefined ? { leaderElect: opts.leaderElect } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Error: invalid scheduler configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics });
  const server = opts.securePort > 0 ? await startComponentServer({ bindAddress: opts.bindAddress, port: opts.securePort, registries: [running.metrics.registry, processMetrics], readyChecks: { 'sched-handler-sync': () => running.ready() } }) : undefined;
  process.stderr.write(`k8ts scheduler running${server ? `; health and metrics on https://${opts.bindAddress}:${server.port}` : ''}\n`);
  // A candidate waiting for leadership has only unref'd timers; keep the process alive until stopped.
  const keepAlive = setInterval(() => undefined, 60_000);
  const stop = async () => {
    clearInterval(keepAlive);
    // In-flight requests may not all finish promptly under load; exit within a few seconds regardless.
    setTimeout(() => process.exit(0), 5000).unref();
    await running.stop();
    await server?.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
