import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addressFromReverse, canonicalIP, endpointHostname, INVALID_REQUEST, parseRequest, podLabelToIP, reverseName } from '../../../../src/network/dns/names.js';

describe('parseRequest splits cluster names as the DNS specification lays them out', () => {
  const z = 'cluster.local.';
  const table: Array<[string, string, ReturnType<typeof parseRequest>]> = [
    ['the zone apex', 'cluster.local.', { podOrSvc: '', namespace: '', service: '', endpoint: '', port: '', protocol: '' }],
    ['svc.<zone>', 'svc.cluster.local.', { podOrSvc: '', namespace: '', service: '', endpoint: '', port: '', protocol: '' }],
    ['a namespace', 'default.svc.cluster.local.', { podOrSvc: 'svc', namespace: 'default', service: '', endpoint: '', port: '', protocol: '' }],
    ['a service', 'web.default.svc.cluster.local.', { podOrSvc: 'svc', namespace: 'default', service: 'web', endpoint: '', port: '', protocol: '' }],
    ['an endpoint', 'web-0.web.default.svc.cluster.local.', { podOrSvc: 'svc', namespace: 'default', service: 'web', endpoint: 'web-0', port: '', protocol: '' }],
    ['a named port and protocol', '_http._tcp.web.default.svc.cluster.local.', { podOrSvc: 'svc', namespace: 'default', service: 'web', endpoint: '', port: 'http', protocol: 'tcp' }],
    ['a pod', '1-2-3-4.default.pod.cluster.local.', { podOrSvc: 'pod', namespace: 'default', service: '1-2-3-4', endpoint: '', port: '', protocol: '' }],
    ['a name under neither svc nor pod', 'x.y.cluster.local.', INVALID_REQUEST],
    ['a name with too many labels', 'a.b.c.web.default.svc.cluster.local.', INVALID_REQUEST],
  ];
  for (const [what, name, want] of table) it(`parses ${what} (${name})`, () => assert.deepEqual(parseRequest(name, z), want));
});

describe('addresses in names', () => {
  const table: Array<[string, () => unknown, unknown]> = [
    ['an endpoint hostname wins over its address', () => endpointHostname({ ip: '10.0.0.1', hostname: 'web-0' }, false), 'web-0'],
    ['an IPv4 endpoint without hostname is its dashed address', () => endpointHostname({ ip: '10.0.0.1' }, false), '10-0-0-1'],
    ['an IPv6 endpoint ending in :: gets a trailing 0', () => endpointHostname({ ip: 'fd00::' }, false), 'fd00--0'],
    ['endpoint_pod_names uses the pod name', () => endpointHostname({ ip: '10.0.0.1', targetRefName: 'web-abc' }, true), 'web-abc'],
    ['a dashed IPv4 pod label is an address', () => podLabelToIP('10-244-0-5'), '10.244.0.5'],
    ['a dashed IPv6 pod label is an address', () => podLabelToIP('fd00--5'), 'fd00::5'],
    ['a label that spells no address is not one', () => podLabelToIP('web-0'), undefined],
    ['an in-addr.arpa name holds its address reversed', () => addressFromReverse('4.3.2.1.in-addr.arpa.'), '1.2.3.4'],
    ['a partial in-addr.arpa name holds no address', () => addressFromReverse('3.2.1.in-addr.arpa.'), ''],
    ['an ip6.arpa name of 32 nibbles is an IPv6 address', () => addressFromReverse('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.'), 'fd00::1'],
    ['reverseName of IPv4', () => reverseName('10.96.0.10'), '10.0.96.10.in-addr.arpa'],
    ['reverseName of IPv6 round-trips', () => addressFromReverse(`${reverseName('fd00:10:96::a')}.`), 'fd00:10:96::a'],
    ['IPv6 is compared in canonical form', () => canonicalIP('FD00:0:0:0:0:0:0:0001'), 'fd00::1'],
  ];
  for (const [what, fn, want] of table) it(what, () => assert.deepEqual(fn(), want));
});
