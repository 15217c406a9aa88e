// `--service-cluster-ip-range` and `--service-node-port-range`, read and checked as
// kube-apiserver does (one CIDR or two of different families; ranges the bitmaps can hold).
import { type CIDR, formatCIDR, formatIP, parseCIDR } from './ip.js';
import type { ServiceNetworkOptions } from './allocator.js';
import { parsePortRange } from './ranges.js';

export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/12';
export const DEFAULT_SERVICE_NODE_PORT_RANGE = '30000-32767';

/** Upstream's limit: the allocation bitmap covers at most 2^20 addresses. */
const MAX_CIDR_BITS = 20;

/** Throws an Error naming the flag and the fix when a value is unusable. */
export function parseServiceNetwork(ipRange: string = DEFAULT_SERVICE_CLUSTER_IP_RANGE, portRange: string = DEFAULT_SERVICE_NODE_PORT_RANGE): ServiceNetworkOptions {
  const parts = ipRange.split(',').map((s) => s.trim());
  if (parts.length > 2) throw new Error(`--service-cluster-ip-range: ${ipRange}: at most two CIDRs (one IPv4 and one IPv6) may be given`);
  const cidrs: CIDR[] = parts.map((p, i) => {
    const c = parseCIDR(p);
    if (!c) throw new Error(`--service-cluster-ip-range[${i}]: ${JSON.stringify(p)} is not a valid CIDR (e.g. 10.96.0.0/12 or fd00:10:96::/108)`);
    if (c.bits - c.prefix > MAX_CIDR_BITS) {
      throw new Error(`--service-cluster-ip-range[${i}]: ${p} is too large; for ${c.bits}-bit addresses, the mask must be >= ${c.bits - MAX_CIDR_BITS}`);
    }
    if (c.bits - c.prefix < 2) throw new Error(`--service-cluster-ip-range[${i}]: ${p} holds no usable address`);
    return c;
  });
  if (cidrs.length === 2 && cidrs[0]!.family === cidrs[1]!.family) {
    throw new Error(`--service-cluster-ip-range: ${formatCIDR(cidrs[0]!)} and ${formatCIDR(cidrs[1]!)} must be of different IP families`);
  }
  const span = parsePortRange(portRange);
  if (!span || span.size === 0) throw new Error(`--service-node-port-range: ${JSON.stringify(portRange)} is not a port range (e.g. 30000-32767)`);
  return { clusterIPRanges: cidrs, nodePortRange: span };
}

/** The first usable address of the primary range: the `kubernetes` Service's IP (10.96.0.1 by default). */
export function firstServiceIP(net: ServiceNetworkOptions): string {
  const c = net.clusterIPRanges[0]!;
  return formatIP({ family: c.family, value: c.base + 1n });
}
