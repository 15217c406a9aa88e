// Proxy mode → backend. Every mode programs the same ProxyState (types.ts); adding a mode is adding
// a factory here.
import type { Logger } from '../../util/log.js';
import type { CommandRunner } from './exec.js';
import { IptablesProxier, type IptablesVariant } from './iptables/proxier.js';
import { createIpvsProxier } from './ipvs/proxier.js';
import { createNftablesProxier } from './nftables/proxier.js';
import type { ProxyMetrics } from './metrics.js';
import type { IPFamily, ProxierBackend, ProxyMode } from './types.js';

export interface BackendContext {
  family: IPFamily;
  /** Runs iptables/nft/ipvsadm/conntrack (possibly inside a network namespace). */
  exec: CommandRunner;
  metrics: ProxyMetrics;
  log: Logger;
  /** iptables mode only: which iptables tools to run (default the system's `iptables`). */
  iptablesVariant?: IptablesVariant;
  /** KubeProxyConfiguration ipvs.scheduler ('' = rr). */
  ipvsScheduler?: string;
}

/** Makes a backend; may throw at startup when the kernel lacks what the mode needs (e.g. IPVS). */
export type BackendFactory = (ctx: BackendContext) => ProxierBackend | Promise<ProxierBackend>;

export const proxyBackends: Partial<Record<ProxyMode, BackendFactory>> = {
  iptables: (ctx) => new IptablesProxier({ family: ctx.family, exec: ctx.exec, metrics: ctx.metrics, log: ctx.log, ...(ctx.iptablesVariant ? { variant: ctx.iptablesVariant } : {}) }),
  nftables: (ctx) => createNftablesProxier({ family: ctx.family, exec: ctx.exec, metrics: ctx.metrics, log: ctx.log }),
  // Throws IpvsUnavailableError naming the missing kernel modules where the kernel has no IPVS.
  ipvs: (ctx) => createIpvsProxier({ family: ctx.family, exec: ctx.exec, log: ctx.log, scheduler: ctx.ipvsScheduler }),
};

/** Thrown when a mode is not built into this k8ts. */
export class UnsupportedProxyModeError extends Error {
  readonly code = 'UnsupportedProxyMode';
  constructor(readonly mode: string) {
    super(`proxy mode "${mode}" is not available in this build of k8ts (available: ${Object.keys(proxyBackends).join(', ')})`);
  }
}

export async function createBackend(mode: ProxyMode, ctx: BackendContext): Promise<ProxierBackend> {
  const factory = proxyBackends[mode];
  if (!factory) throw new UnsupportedProxyModeError(mode);
  return factory(ctx);
}

/**
 * Removes the rules of every mode (`k8ts proxy --cleanup`, and before a mode switch, as upstream
 * does). Returns the problems met; a mode whose backend cannot even start (no IPVS) is skipped.
 */
export async function cleanupAllModes(ctx: BackendContext, except?: ProxyMode): Promise<string[]> {
  const errors: string[] = [];
  for (const [mode, factory] of Object.entries(proxyBackends) as Array<[ProxyMode, BackendFactory]>) {
    if (mode === except) continue;
    let backend: ProxierBackend;
    try {
      backend = await factory(ctx);
    } catch (err) {
      ctx.log.debug({ mode, err: String(err) }, 'mode unavailable; nothing to clean up');
      continue;
    }
    try {
      await backend.cleanup();
    } catch (err) {
      errors.push(`${mode}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return errors;
}
