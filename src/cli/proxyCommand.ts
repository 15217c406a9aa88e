// `k8ts proxy`: kube-proxy as its own process. Flags override the --config file, as upstream's do.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadClientConfig } from '../client/config.js';
import { RestClient } from '../client/restClient.js';
import { cleanupAllModes } from '../network/proxy/backends.js';
import { defaultProxyConfig, parseProxyConfig, ProxyConfigError, validateProxyConfig, type KubeProxyConfiguration } from '../network/proxy/config.js';
import { commandRunner } from '../network/proxy/exec.js';
import type { IptablesVariant } from '../network/proxy/iptables/proxier.js';
import { ProxyMetrics } from '../network/proxy/metrics.js';
import { startProxy } from '../network/proxy/server.js';
import type { ProxyMode } from '../network/proxy/types.js';
import { logger } from '../util/log.js';

export interface ProxyCommandOptions {
  kubeconfig?: string;
  config?: string;
  hostnameOverride?: string;
  proxyMode?: string;
  clusterCidr?: string;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  masqueradeAll?: boolean;
  nodeportAddresses?: string[];
  cleanup?: boolean;
  iptablesTools?: string;
}

/** The configuration from --config (or defaults) with the flags applied on top. */
export async function resolveProxyConfig(opts: ProxyCommandOptions): Promise<KubeProxyConfiguration> {
  const cfg = opts.config ? parseProxyConfig(await readFile(opts.config, 'utf8')) : defaultProxyConfig();
  if (opts.hostnameOverride !== undefined) cfg.hostnameOverride = opts.hostnameOverride;
  if (opts.proxyMode !== undefined) cfg.mode = opts.proxyMode as ProxyMode;
  if (opts.clusterCidr !== undefined) cfg.clusterCIDR = opts.clusterCidr;
  if (opts.healthzBindAddress !== undefined) cfg.healthzBindAddress = opts.healthzBindAddress;
  if (opts.metricsBindAddress !== undefined) cfg.metricsBindAddress = opts.metricsBindAddress;
  if (opts.masqueradeAll !== undefined) cfg.iptables.masqueradeAll = cfg.nftables.masqueradeAll = opts.masqueradeAll;
  if (opts.nodeportAddresses !== undefined) cfg.nodePortAddresses = opts.nodeportAddresses;
  validateProxyConfig(cfg);
  return cfg;
}

/** Upstream's node name: hostnameOverride, else the lower-cased host name. */
export function proxyNodeName(cfg: KubeProxyConfiguration): string {
  return (cfg.hostnameOverride || hostname()).trim().toLowerCase();
}

export async function runProxyCommand(opts: ProxyCommandOptions): Promise<void> {
  let cfg: KubeProxyConfiguration;
  try {
    cfg = await resolveProxyConfig(opts);
  } catch (err) {
    if (err instanceof ProxyConfigError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`Error: invalid kube-proxy configuration${opts.config ? ` in ${opts.config}` : ''}: ${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = logger('kube-proxy');
  const variant = opts.iptablesTools ?? 'system';
  if (!['system', 'nft', 'legacy'].includes(variant)) {
    process.stderr.write(`Error: --iptables-tools must be system, nft or legacy, not "${variant}"\n`);
    process.exit(1);
  }
  const iptablesVariant = variant as IptablesVariant;
  if (opts.cleanup) {
    const metrics = new ProxyMetrics();
    const errors = [];
    for (const family of ['IPv4', 'IPv6'] as const) errors.push(...(await cleanupAllModes({ family, exec: commandRunner(), metrics, log, iptablesVariant })));
    if (errors.length) {
      process.stderr.write(`Error: cleanup incomplete:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
      process.exit(1);
    }
    process.stderr.write('k8ts proxy: removed the rules of every proxy mode\n');
    return;
  }
  const kubeconfig = opts.kubeconfig ?? (cfg.clientConnection.kubeconfig || undefined);
  let client: RestClient;
  try {
    client = new RestClient(await loadClientConfig(kubeconfig ? { path: kubeconfig } : {}), { component: 'kube-proxy', qps: cfg.clientConnection.qps, burst: cfg.clientConnection.burst });
  } catch (err) {
    process.stderr.write(`Error: cannot load the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const nodeName = proxyNodeName(cfg);
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics });
  let running;
  try {
    running = await startProxy({ client, config: cfg, nodeName, log, extraRegistries: [processMetrics], iptablesVariant });
  } catch (err) {
    process.stderr.write(`Error: kube-proxy cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stderr.write(`k8ts proxy running in ${cfg.mode} mode for node ${nodeName}; healthz on ${cfg.healthzBindAddress}, metrics on ${cfg.metricsBindAddress}\n`);
  const keepAlive = setInterval(() => undefined, 60_000);
  const stop = async () => {
    clearInterval(keepAlive);
    setTimeout(() => process.exit(0), 5000).unref();
    await running.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
