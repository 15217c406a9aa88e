import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoints, Service, ServiceSpec } from 'kubernetes-types/core/v1.js';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const SERVICE = { group: '', kind: 'Service' };

function service(spec: ServiceSpec, ingress?: Array<{ ip?: string; hostname?: string }>): Service {
  return {
    metadata: { name: 'web', creationTimestamp: ago(45, 'm') },
    spec,
    status: ingress ? { loadBalancer: { ingress } } : {},
  };
}

function cells(s: Service): TableCell[] {
  return onlyRow(toTable(SERVICE, [s], { now: NOW }).rows).cells;
}

describe('service printer', () => {
  const cases: Array<[string, Service, TableCell[]]> = [
    [
      'a ClusterIP service without external IPs',
      service({ type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'web' } }),
      ['web', 'ClusterIP', '10.96.0.10', '<none>', '80/TCP', '45m', 'app=web'],
    ],
    [
      'a NodePort service shows port:nodePort',
      service({
        type: 'NodePort',
        clusterIPs: ['10.96.3.4'],
        ports: [
          { port: 80, nodePort: 30080, protocol: 'TCP' },
          { port: 53, nodePort: 30053, protocol: 'UDP' },
        ],
        selector: { tier: 'front', app: 'web' },
      }),
      ['web', 'NodePort', '10.96.3.4', '<none>', '80:30080/TCP,53:30053/UDP', '45m', 'app=web,tier=front'],
    ],
    [
      'a ClusterIP service with external IPs lists them',
      service({ type: 'ClusterIP', clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.1', '192.0.2.2'], ports: [{ port: 443, protocol: 'TCP' }] }),
      ['web', 'ClusterIP', '10.96.0.1', '192.0.2.1,192.0.2.2', '443/TCP', '45m', '<none>'],
    ],
    [
      'a load balancer not provisioned yet is <pending>',
      service({ type: 'LoadBalancer', clusterIPs: ['10.96.0.7'], ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }] }),
      ['web', 'LoadBalancer', '10.96.0.7', '<pending>', '80:31000/TCP', '45m', '<none>'],
    ],
    [
      'a load balancer shows its ingress points sorted, IP before hostname, unclipped',
      service({ type: 'LoadBalancer', clusterIPs: ['10.96.0.7'], ports: [{ port: 80, protocol: 'TCP' }] }, [
        { hostname: 'lb-1234567890.example.com' },
        { ip: '198.51.100.9' },
        { ip: '198.51.100.2', hostname: 'ignored.example.com' },
      ]),
      ['web', 'LoadBalancer', '10.96.0.7', '198.51.100.2,198.51.100.9,lb-1234567890.example.com', '80/TCP', '45m', '<none>'],
    ],
    [
      'a load balancer with external IPs lists ingress points then external IPs',
      service({ type: 'LoadBalancer', clusterIPs: ['10.96.0.7'], externalIPs: ['192.0.2.1'], ports: [{ port: 80, protocol: 'TCP' }] }, [{ ip: '198.51.100.2' }]),
      ['web', 'LoadBalancer', '10.96.0.7', '198.51.100.2,192.0.2.1', '80/TCP', '45m', '<none>'],
    ],
    [
      'an ExternalName service shows the name; no cluster IP and no ports are <none>',
      service({ type: 'ExternalName', externalName: 'db.example.com' }),
      ['web', 'ExternalName', '<none>', 'db.example.com', '<none>', '45m', '<none>'],
    ],
    [
      'a headless service shows None as its cluster IP',
      service({ type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 5432, protocol: 'TCP' }] }),
      ['web', 'ClusterIP', 'None', '<none>', '5432/TCP', '45m', '<none>'],
    ],
    [
      'a dual-stack service shows its first cluster IP',
      service({ type: 'ClusterIP', clusterIP: '10.96.0.8', clusterIPs: ['10.96.0.8', 'fd00::8'], ports: [{ port: 80, protocol: 'TCP' }] }),
      ['web', 'ClusterIP', '10.96.0.8', '<none>', '80/TCP', '45m', '<none>'],
    ],
  ];
  for (const [name, s, want] of cases) it(name, () => assert.deepEqual(cells(s), want));
});

describe('endpoints printer', () => {
  const ENDPOINTS = { group: '', kind: 'Endpoints' };
  const ep = (subsets: Endpoints['subsets']): Endpoints => ({ metadata: { name: 'web', creationTimestamp: ago(1, 'h') }, ...(subsets ? { subsets } : {}) });
  const addrs = (...ips: string[]) => ips.map((ip) => ({ ip }));
  const cases: Array<[string, Endpoints, string]> = [
    ['no subsets is <none>', ep(undefined), '<none>'],
    ['one address and port', ep([{ addresses: addrs('10.1.0.4'), ports: [{ port: 8080 }] }]), '10.1.0.4:8080'],
    ['every address for every port', ep([{ addresses: addrs('10.1.0.4', '10.1.0.5'), ports: [{ port: 80 }, { port: 443 }] }]), '10.1.0.4:80,10.1.0.5:80,10.1.0.4:443 + 1 more...'],
    ['three shown, the rest counted', ep([{ addresses: addrs('10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5'), ports: [{ port: 80 }] }]), '10.1.0.1:80,10.1.0.2:80,10.1.0.3:80 + 2 more...'],
    ['a port-less (headless) subset lists bare IPs', ep([{ addresses: addrs('10.1.0.4', '10.1.0.5') }]), '10.1.0.4,10.1.0.5'],
    ['IPv6 hosts get brackets', ep([{ addresses: addrs('fd00::4'), ports: [{ port: 80 }] }]), '[fd00::4]:80'],
    ['a subset with only not-ready addresses prints nothing', ep([{ notReadyAddresses: addrs('10.1.0.4'), ports: [{ port: 80 }] }]), ''],
  ];
  for (const [name, e, want] of cases) it(name, () => assert.deepEqual(onlyRow(toTable(ENDPOINTS, [e], { now: NOW }).rows).cells, ['web', want, '60m']));
});
