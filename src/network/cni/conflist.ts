// The node's pod network as a CNI conflist, the shape k3s and kubeadm guides write for the reference
// plugins: bridge (gateway on the node, hairpin) + host-local IPAM over the node's podCIDR, portmap
// for hostPorts, and loopback is run separately for `lo` by the runtime. Egress masquerade is the
// agent's, once per node (src/network/podMasquerade.ts), not the bridge plugin's per pod.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniNetworkConfList } from './invoke.js';

export interface NodeNetworkOptions {
  /** Network name (also host-local's allocation folder name). */
  name?: string;
  /** Bridge device on the node, default `k8ts0` (Linux limits names to 15 bytes). */
  bridge?: string;
  /** The node's spec.podCIDR(s), e.g. `10.42.0.0/24`; the first address is the bridge's gateway. */
  podCIDRs: string[];
  /** Where host-local records allocations; default is the plugin's (/var/lib/cni/networks). */
  ipamDataDir?: string;
  /**
   * The bridge plugin's own per-pod masquerade (a nat chain per pod, 9 iptables runs per ADD).
   * Default false: the agent masquerades the node's pod network once (podMasquerade.ts).
   */
  ipMasq?: boolean;
  mtu?: number;
}

export const DEFAULT_NETWORK_NAME = 'k8ts';
export const DEFAULT_BRIDGE = 'k8ts0';

/** The pod network conflist (pure). */
export function nodeNetworkConflist(opts: NodeNetworkOptions): CniNetworkConfList {
  if (opts.podCIDRs.length === 0) throw new Error('nodeNetworkConflist: at least one podCIDR is required');
  const bridge = opts.bridge ?? DEFAULT_BRIDGE;
  if (bridge.length > 15) throw new Error(`bridge name "${bridge}" is longer than 15 bytes`);
  const ipam: Record<string, unknown> = {
    type: 'host-local',
    ranges: opts.podCIDRs.map((subnet) => [{ subnet }]),
    routes: opts.podCIDRs.map((c) => ({ dst: c.includes(':') ? '::/0' : '0.0.0.0/0' })),
  };
  if (opts.ipamDataDir) ipam.dataDir = opts.ipamDataDir;
  const bridgeConf: Record<string, unknown> = {
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: opts.ipMasq ?? false,
    hairpinMode: true,
    ipam,
  };
  if (opts.mtu) bridgeConf.mtu = opts.mtu;
  return {
    cniVersion: '1.0.0',
    name: opts.name ?? DEFAULT_NETWORK_NAME,
    plugins: [
      bridgeConf as CniNetworkConfList['plugins'][number],
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/**
 * Whether the node's conflist must be (re)written given the network in use and the one k8ts wants.
 * Our own network (same name) is rewritten when anything differs, e.g. `ipMasq: true` from an
 * earlier version; another network is replaced only when its address range is not the node's.
 * Running sandboxes are unaffected: each keeps the list it was set up with for its DEL. Pure.
 */
export function conflistNeedsWrite(current: CniNetworkConfList | undefined, wanted: CniNetworkConfList): boolean {
  if (!current) return true;
  if (current.name === wanted.name) return JSON.stringify(current) !== JSON.stringify(wanted);
  return JSON.stringify(current.plugins[0]?.ipam ?? null) !== JSON.stringify(wanted.plugins[0]?.ipam ?? null);
}

/** The loopback plugin's list, run for `lo` in every pod netns. */
export function loopbackConflist(): CniNetworkConfList {
  return { cniVersion: '1.0.0', name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
}

/** Writes `<confDir>/10-<name>.conflist` atomically; returns its path. */
export async function writeNodeNetworkConflist(confDir: string, list: CniNetworkConfList): Promise<string> {
  await mkdir(confDir, { recursive: true });
  const file = join(confDir, `10-${list.name}.conflist`);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(list, null, 2) + '\n');
  await rename(tmp, file);
  return file;
}
