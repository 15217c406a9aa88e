// Names of the objects in the `kube-proxy` nftables table, as upstream's nftables proxier spells them,
// so `nft list table ip kube-proxy` reads the same as on a kubeadm cluster.
import { base32 } from '../iptables/chains.js';
import { createHash } from 'node:crypto';
import type { IPFamily, ServicePortName } from '../types.js';

export const TABLE = 'kube-proxy';

// Base chains ("type-hook") and the regular chains they jump to.
export const FILTER_PREROUTING = 'filter-prerouting';
export const FILTER_INPUT = 'filter-input';
export const FILTER_FORWARD = 'filter-forward';
export const FILTER_OUTPUT = 'filter-output';
export const FILTER_OUTPUT_POST_DNAT = 'filter-output-post-dnat';
export const NAT_PREROUTING = 'nat-prerouting';
export const NAT_OUTPUT = 'nat-output';
export const NAT_POSTROUTING = 'nat-postrouting';

export const SERVICES_CHAIN = 'services';
export const SERVICE_IPS_MAP = 'service-ips';
export const SERVICE_NODEPORTS_MAP = 'service-nodeports';
export const NODEPORT_IPS_SET = 'nodeport-ips';
export const CLUSTER_IPS_SET = 'cluster-ips';
export const SERVICE_ENDPOINTS_CHECK_CHAIN = 'service-endpoints-check';
export const NODEPORT_ENDPOINTS_CHECK_CHAIN = 'nodeport-endpoints-check';
export const NO_ENDPOINT_SERVICES_MAP = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS_MAP = 'no-endpoint-nodeports';
export const REJECT_CHAIN = 'reject-chain';
export const CLUSTER_IPS_CHECK_CHAIN = 'cluster-ips-check';
export const FIREWALL_IPS_MAP = 'firewall-ips';
export const FIREWALL_CHECK_CHAIN = 'firewall-check';
export const MARK_MASQ_CHAIN = 'mark-for-masquerade';
export const MASQUERADING_CHAIN = 'masquerading';

/** nft's limit on chain and set names. */
const NAME_LENGTH_MAX = 256;
const PREFIX_LENGTH_MAX = 16;
const BASE_LENGTH_MAX = NAME_LENGTH_MAX - PREFIX_LENGTH_MAX;

/** `ip` / `ip6`: the table family, and the payload keyword for addresses (`ip daddr`). */
export function nftFamily(family: IPFamily): 'ip' | 'ip6' {
  return family === 'IPv6' ? 'ip6' : 'ip';
}

/** The set element type for one address of the family. */
export function addrType(family: IPFamily): 'ipv4_addr' | 'ipv6_addr' {
  return family === 'IPv6' ? 'ipv6_addr' : 'ipv4_addr';
}


/**
 * `HASH8-name`: a hash of the name in front keeps names unique when the end is cut off and makes
 * chains of one service (that differ in one digit) easy to tell apart.
 */
export function hashAndTruncate(name: string): string {
  const cached = hashed.get(name);
  if (cached !== undefined) return cached;
  // Bounded: a churning cluster must not grow this forever.
  if (hashed.size >= HASH_CACHE_MAX) hashed.clear();
  const out = hashUncached(name);
  hashed.set(name, out);
  return out;
}

// Every sync names every endpoint chain of the ports it writes; sha256 per name adds up at 10k endpoints.
const HASH_CACHE_MAX = 200_000;
const hashed = new Map<string, string>();

function hashUncached(name: string): string {
  const hash = base32(createHash('sha256').update(name).digest()).slice(0, 8);
  const full = `${hash}-${name}`;
  return full.length > BASE_LENGTH_MAX ? `${full.slice(0, BASE_LENGTH_MAX - 3)}...` : full;
}

/** `HASH-ns/name/tcp/port`; namespace, service and port names only hold [a-z0-9-], all legal here. */
export function servicePortChainBase(n: ServicePortName): string {
  return hashAndTruncate(`${n.namespace}/${n.name}/${n.protocol.toLowerCase()}/${n.port}`);
}

/** `HASH-ns/name/tcp/port__ip/port` (colons of IPv6 become dots: nft names cannot hold them). */
export function endpointChainBase(n: ServicePortName, ip: string, port: number): string {
  return hashAndTruncate(`${n.namespace}/${n.name}/${n.protocol.toLowerCase()}/${n.port}__${ip.replaceAll(':', '.')}/${port}`);
}

export interface ServiceChainNames {
  cluster: string;
  local: string;
  external: string;
  firewall: string;
}

export function serviceChainNames(n: ServicePortName): ServiceChainNames {
  const base = servicePortChainBase(n);
  return { cluster: `service-${base}`, local: `local-${base}`, external: `external-${base}`, firewall: `firewall-${base}` };
}

export function endpointChainName(n: ServicePortName, ip: string, port: number): string {
  return `endpoint-${endpointChainBase(n, ip, port)}`;
}

export function affinitySetName(n: ServicePortName, ip: string, port: number): string {
  return `affinity-${endpointChainBase(n, ip, port)}`;
}

/** Per-service chains always hold a "/" (from the name base); the fixed chains never do. */
export function isServiceChainName(chain: string): boolean {
  return chain.includes('/');
}

export function isAffinitySetName(set: string): boolean {
  return set.startsWith('affinity-');
}
