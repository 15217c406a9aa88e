// `kubectl get services`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE (wide: SELECTOR), and endpoints:
// NAME ENDPOINTS AGE with at most three host:port pairs then ` + N more...`.
import type { Endpoints, LoadBalancerStatus, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import { formatLabels, joinHostPort } from '../format.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer, wide, type PrintContext } from '../printer.js';
import type { TableCell } from '../types.js';

const serviceColumns = [
  NAME_COLUMN,
  column('Type', 'string', 'How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.'),
  column('Cluster-IP', 'string', 'The service’s virtual IP inside the cluster (None for headless services).'),
  column('External-IP', 'string', 'Where the service is reachable from outside: external IPs, load-balancer ingress, or the external name.'),
  column('Port(s)', 'string', 'The service’s ports as port[:nodePort]/protocol.'),
  AGE_COLUMN,
  wide('Selector', 'string', 'The labels of the pods the service routes to.'),
];

/** Load-balancer ingress points (IP, else hostname), sorted and deduplicated, comma-joined. */
export function loadBalancerIngress(lb: Readonly<LoadBalancerStatus> | undefined): string {
  const points = new Set<string>();
  for (const i of lb?.ingress ?? []) {
    if (i.ip) points.add(i.ip);
    else if (i.hostname) points.add(i.hostname);
  }
  return [...points].sort().join(',');
}

/** The EXTERNAL-IP cell: `<none>` without external IPs, `<pending>` for a load balancer not provisioned yet. */
export function serviceExternalIP(svc: Readonly<Service>): string {
  const externalIPs = svc.spec?.externalIPs ?? [];
  switch (svc.spec?.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(svc.status?.loadBalancer);
      if (externalIPs.length > 0) return [...(lb === '' ? [] : lb.split(',')), ...externalIPs].join(',');
      return lb === '' ? '<pending>' : lb;
    }
    case 'ExternalName':
      return svc.spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

/** `80/TCP`, or `80:30080/TCP` when the port has a node port. */
export function servicePorts(ports: readonly ServicePort[] | undefined): string {
  return (ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? ''}` : `${p.port}/${p.protocol ?? ''}`)).join(',');
}

function printService(svc: Readonly<Service>, ctx: PrintContext): TableCell[] {
  const ports = servicePorts(svc.spec?.ports);
  return [
    svc.metadata?.name ?? '',
    svc.spec?.type ?? '',
    svc.spec?.clusterIPs?.[0] || svc.spec?.clusterIP || '<none>',
    serviceExternalIP(svc),
    ports === '' ? '<none>' : ports,
    ageSince(svc.metadata?.creationTimestamp, ctx.now),
    formatLabels(svc.spec?.selector),
  ];
}

export const servicePrinter = printer<Service>(serviceColumns, printService);

const MAX_ENDPOINTS = 3;

/** The ENDPOINTS cell: up to three `ip:port` (or bare IPs for port-less subsets), then ` + N more...`. */
export function formatEndpoints(ep: Readonly<Endpoints>): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    if ((ss.ports ?? []).length === 0) {
      // Headless services may have no ports.
      count += addresses.length;
      for (const a of addresses) if (list.length < MAX_ENDPOINTS) list.push(a.ip);
      continue;
    }
    for (const port of ss.ports ?? []) {
      count += addresses.length;
      for (const a of addresses) if (list.length < MAX_ENDPOINTS) list.push(joinHostPort(a.ip, port.port));
    }
  }
  const shown = list.join(',');
  return count > MAX_ENDPOINTS ? `${shown} + ${count - MAX_ENDPOINTS} more...` : shown;
}

const endpointsColumns = [NAME_COLUMN, column('Endpoints', 'string', 'The addresses and ports that back the service.'), AGE_COLUMN];

export const endpointsPrinter = printer<Endpoints>(endpointsColumns, (ep, ctx) => [
  ep.metadata?.name ?? '',
  formatEndpoints(ep),
  ageSince(ep.metadata?.creationTimestamp, ctx.now),
]);
