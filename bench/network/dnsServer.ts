// The DNS server of the DNS benchmark, in a process of its own so that clients and server do not
// share a core: kubeadm's default Corefile over N Services with 10 endpoints each (static objects,
// no API server), on a free loopback port. Prints {"port":N} once listening; SIGTERM stops it.
import type { Namespace, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { defaultCorefile } from '../../src/network/dns/corefile.js';
import { startDns } from '../../src/network/dns/server.js';

const services = Number(process.argv[2] ?? 1000);
const namespaces: Namespace[] = [{ metadata: { name: 'default' } }, { metadata: { name: 'bench' } }];
const svcs: Service[] = [];
const slices: EndpointSlice[] = [];
for (let i = 0; i < services; i++) {
  const ip = `10.96.${100 + (i >> 8)}.${i & 255}`;
  svcs.push({ metadata: { name: `svc-${i}`, namespace: 'bench' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
  slices.push({
    metadata: { name: `svc-${i}-x`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 10 }, (_, j) => ({ addresses: [`10.${(i >> 8) + 1}.${i & 255}.${j + 1}`], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}
// The upstream is never asked (every name is in cluster.local); the loop probe would ask it, so
// the loop plugin is left out here.
const dns = await startDns({
  corefile: defaultCorefile('cluster.local', '127.0.0.1:1').replace('    loop\n', ''),
  objects: { namespaces, services: svcs, endpointSlices: slices },
  dnsPort: 0,
  listen: ['127.0.0.1'],
  healthAddress: '127.0.0.1:0',
  readyAddress: '127.0.0.1:0',
  metricsAddress: '127.0.0.1:0',
  lameduckMs: 0,
});
process.stdout.write(`${JSON.stringify({ port: dns.port })}\n`);
process.once('SIGTERM', () => void dns.stop().then(() => process.exit(0)));
