// networking.k8s.io and discovery.k8s.io printers: ingresses, ingress classes, network policies, endpoint
// slices, service CIDRs and IP addresses.
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressClass, IngressLoadBalancerStatus, NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { IPAddress, ServiceCIDR } from 'kubernetes-types/networking/v1alpha1.js';
import { formatLabelSelector, listWithMore } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

const MAX_HOSTS = 3;

/** The HOSTS cell: up to three rule hosts, `*` when no rule names one. */
export function ingressHosts(rules: ReadonlyArray<{ host?: string }> | undefined): string {
  const list = rules ?? [];
  const hosts: string[] = [];
  let more = false;
  for (const r of list) {
    if (hosts.length === MAX_HOSTS) more = true;
    if (!more && r.host) hosts.push(r.host);
  }
  if (hosts.length === 0) return '*';
  // Upstream counts the remainder against all rules, host or not.
  return more ? `${hosts.join(',')} + ${list.length - MAX_HOSTS} more...` : hosts.join(',');
}

function ingressAddress(lb: Readonly<IngressLoadBalancerStatus> | undefined): string {
  const points = new Set<string>();
  for (const i of lb?.ingress ?? []) {
    if (i.ip) points.add(i.ip);
    else if (i.hostname) points.add(i.hostname);
  }
  return [...points].sort().join(',');
}

export const ingressPrinter = printer<Ingress>(
  [
    NAME_COLUMN,
    column('Class', 'string', 'The ingress class that handles the ingress.'),
    column('Hosts', 'string', 'The hosts the ingress rules match.'),
    column('Address', 'string', 'Where the load balancer for the ingress listens.'),
    column('Ports', 'string', 'The ports the ingress serves: 80, and 443 when it has TLS.'),
    AGE_COLUMN,
  ],
  (ing, ctx) => [
    ing.metadata?.name ?? '',
    ing.spec?.ingressClassName ?? '<none>',
    ingressHosts(ing.spec?.rules),
    ingressAddress(ing.status?.loadBalancer),
    (ing.spec?.tls ?? []).length > 0 ? '80, 443' : '80',
    ageSince(ing.metadata?.creationTimestamp, ctx.now),
  ],
);

export const ingressClassPrinter = printer<IngressClass>(
  [
    NAME_COLUMN,
    column('Controller', 'string', 'The controller that implements the class.'),
    column('Parameters', 'string', 'The resource holding the class’s parameters, as kind[.group]/name.'),
    AGE_COLUMN,
  ],
  (ic, ctx) => {
    const p = ic.spec?.parameters;
    const parameters = p ? `${p.kind}${p.apiGroup !== undefined && p.apiGroup !== null ? `.${p.apiGroup}` : ''}/${p.name}` : '<none>';
    return [ic.metadata?.name ?? '', ic.spec?.controller ?? '', parameters, ageSince(ic.metadata?.creationTimestamp, ctx.now)];
  },
);

export const networkPolicyPrinter = printer<NetworkPolicy>(
  [NAME_COLUMN, column('Pod-Selector', 'string', 'The pods the policy applies to.'), AGE_COLUMN],
  (np, ctx) => [np.metadata?.name ?? '', formatLabelSelector(np.spec?.podSelector ?? {}), ageSince(np.metadata?.creationTimestamp, ctx.now)],
);

const MAX_SLICE_ITEMS = 3;

export const endpointSlicePrinter = printer<EndpointSlice>(
  [
    NAME_COLUMN,
    column('AddressType', 'string', 'The kind of addresses the slice holds: IPv4, IPv6 or FQDN.'),
    column('Ports', 'string', 'The slice’s port numbers (or names).'),
    column('Endpoints', 'string', 'The slice’s endpoint addresses.'),
    AGE_COLUMN,
  ],
  (es, ctx) => {
    const ports = (es.ports ?? []).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : (p.name ?? '*')));
    const addresses = (es.endpoints ?? []).flatMap((e) => e.addresses ?? []);
    return [
      es.metadata?.name ?? '',
      es.addressType ?? '',
      listWithMore(ports, ports.length, MAX_SLICE_ITEMS),
      listWithMore(addresses, addresses.length, MAX_SLICE_ITEMS),
      ageSince(es.metadata?.creationTimestamp, ctx.now),
    ];
  },
);

export const serviceCIDRPrinter = printer<ServiceCIDR>(
  [NAME_COLUMN, column('CIDRs', 'string', 'The ranges service cluster IPs are allocated from.'), AGE_COLUMN],
  (s, ctx) => [s.metadata?.name ?? '', (s.spec?.cidrs ?? []).join(','), ageSince(s.metadata?.creationTimestamp, ctx.now)],
);

export const ipAddressPrinter = printer<IPAddress>(
  [NAME_COLUMN, column('ParentRef', 'string', 'The object the address is allocated to, as resource[.group][/namespace]/name.')],
  (ip, ctx) => {
    const p = ip.spec?.parentRef;
    let parent = '<none>';
    if (p) {
      parent = (p.group ? `${p.resource}.${p.group}` : p.resource).toLowerCase();
      if (p.namespace) parent += `/${p.namespace}`;
      parent += `/${p.name}`;
    }
    // Upstream prints an age cell here although it declares no AGE column.
    return [ip.metadata?.name ?? '', parent, ageSince(ip.metadata?.creationTimestamp, ctx.now)];
  },
);
