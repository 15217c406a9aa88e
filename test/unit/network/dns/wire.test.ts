import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as packet from 'dns-packet';
import type { Answer } from 'dns-packet';
import { acceptQuery, encodeQuery, encodeReply, headerOnlyReply, roundRobin, RCODE } from '../../../../src/network/dns/wire.js';
import type { PluginResult } from '../../../../src/network/dns/kubernetesPlugin.js';

function header(fields: { flags?: number; qd?: number; an?: number; ns?: number; ar?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xbeef, 0);
  b.writeUInt16BE(fields.flags ?? 0x0100, 2);
  b.writeUInt16BE(fields.qd ?? 1, 4);
  b.writeUInt16BE(fields.an ?? 0, 6);
  b.writeUInt16BE(fields.ns ?? 0, 8);
  b.writeUInt16BE(fields.ar ?? 0, 10);
  return b;
}

describe('which messages are accepted as queries', () => {
  const table: Array<[string, Buffer, ReturnType<typeof acceptQuery>]> = [
    ['fewer than 12 bytes cannot be answered at all', Buffer.from([1, 2, 3]), { action: 'ignore' }],
    ['a response is never answered', header({ flags: 0x8000 }), { action: 'ignore' }],
    ['an UPDATE (opcode 5) is not implemented', header({ flags: 5 << 11 }), { action: 'reject', rcode: RCODE.NOTIMP }],
    ['an IQUERY (opcode 1) is not implemented', header({ flags: 1 << 11 }), { action: 'reject', rcode: RCODE.NOTIMP }],
    ['two questions are a format error', header({ qd: 2 }), { action: 'reject', rcode: RCODE.FORMERR }],
    ['no question is a format error', header({ qd: 0 }), { action: 'reject', rcode: RCODE.FORMERR }],
    ['three additional records are a format error', header({ ar: 3 }), { action: 'reject', rcode: RCODE.FORMERR }],
    ['one question is accepted', header({}), { action: 'accept' }],
  ];
  for (const [what, buf, want] of table) it(what, () => assert.deepEqual(acceptQuery(buf), want));

  it('a header-only reply keeps the ID, opcode and RD, and sets QR and the rcode', () => {
    const out = headerOnlyReply(header({ flags: (5 << 11) | 0x0100, qd: 7 }), RCODE.NOTIMP);
    assert.equal(out.length, 12);
    const d = packet.decode(out);
    assert.equal(d.id, 0xbeef);
    assert.equal(d.flag_qr, true);
    assert.equal(d.flag_rd, true);
    assert.equal((d as unknown as { opcode: string }).opcode, 'UPDATE');
    assert.equal((d as unknown as { rcode: string }).rcode, 'NOTIMP');
    assert.equal(d.questions?.length, 0);
  });
});

function manyA(n: number): PluginResult {
  const answers: Answer[] = [];
  for (let i = 0; i < n; i++) answers.push({ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN', ttl: 30, data: `10.244.${i >> 8}.${i & 255}` });
  return { rcode: 'NOERROR', answers, authorities: [], additionals: [], authoritative: true, plugin: 'kubernetes' };
}

describe('encoding replies that fit the client', () => {
  const question = { name: 'web.default.svc.cluster.local', type: 'A' as const, class: 'IN' as const };
  const base = { id: 7, question, queryFlags: 0x0100, shuffle: false };
  const noEdns = { present: false, udpSize: 512, version: 0, dnssecOk: false };
  const table: Array<[string, number, { present: boolean; udpSize: number; version: number; dnssecOk: boolean }, number, boolean, number]> = [
    // [what, records, edns, maxSize, want TC, want answers]
    ['a small answer is sent whole without TC', 3, noEdns, 512, false, 3],
    ['an answer over 512 bytes without EDNS is cut to fit (names compressed) and sets TC', 40, noEdns, 512, true, 29],
    ['an EDNS buffer of 1232 lets more records through', 100, { present: true, udpSize: 1232, version: 0, dnssecOk: false }, 1232, true, 73],
    ['over TCP the whole answer goes', 40, noEdns, 65535, false, 40],
  ];
  for (const [what, n, edns, max, tc, count] of table) {
    it(what, () => {
      const out = encodeReply(manyA(n), { ...base, edns, maxSize: max });
      assert.ok(out.length <= max, `${out.length} <= ${max}`);
      const d = packet.decode(out);
      assert.equal(d.flag_tc, tc);
      assert.equal(d.answers?.length, count);
      assert.equal(d.flag_aa, true);
      assert.equal(d.id, 7);
      assert.equal(d.additionals?.some((a) => a.type === 'OPT'), edns.present);
    });
  }
  it('compressed replies decode to the same records, of every type the server writes', () => {
    const result: PluginResult = {
      rcode: 'NXDOMAIN',
      answers: [
        { name: 'x.svc.cluster.local', type: 'CNAME', class: 'IN', ttl: 5, data: 'y.svc.cluster.local' },
        { name: 'y.svc.cluster.local', type: 'AAAA', class: 'IN', ttl: 5, data: 'fd00::1' },
        { name: '_h._tcp.y.svc.cluster.local', type: 'SRV', class: 'IN', ttl: 5, data: { priority: 0, weight: 100, port: 80, target: 'y.svc.cluster.local' } },
        { name: '1.0.0.10.in-addr.arpa', type: 'PTR', class: 'IN', ttl: 5, data: 'y.svc.cluster.local' },
        { name: 'dns-version.cluster.local', type: 'TXT', class: 'IN', ttl: 5, data: ['1.1.0'] },
        { name: 'cluster.local', type: 'MX', class: 'IN', ttl: 5, data: { preference: 10, exchange: 'mail.cluster.local' } },
      ],
      authorities: [{ name: 'cluster.local', type: 'SOA', class: 'IN', ttl: 30, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 7, refresh: 7200, retry: 1800, expire: 86400, minimum: 30 } }],
      additionals: [{ name: 'cluster.local', type: 'NS', class: 'IN', ttl: 5, data: 'ns.dns.cluster.local' }],
      authoritative: true,
      plugin: 'kubernetes',
    };
    const out = encodeReply(result, { ...base, edns: { present: true, udpSize: 4096, version: 0, dnssecOk: true }, maxSize: 4096 });
    const d = packet.decode(out);
    assert.equal((d as unknown as { rcode: string }).rcode, 'NXDOMAIN');
    // dns-packet turns TXT strings into Buffers (also in the records it encodes): compare as text.
    const strip = (rs: Answer[] | undefined) => (rs ?? []).filter((r) => r.type !== 'OPT').map((r) => ({ ...r, flush: false, data: r.type === 'TXT' ? (r.data as Buffer[]).map(String) : r.data }));
    assert.deepEqual(strip(d.answers), strip(result.answers));
    assert.deepEqual(strip(d.authorities), strip(result.authorities));
    assert.deepEqual(strip(d.additionals), strip(result.additionals));
    const opt = d.additionals?.find((a) => a.type === 'OPT');
    assert.equal(opt?.type === 'OPT' && opt.flag_do, true);
    assert.ok(out.length < packet.encode({ ...d, id: 7 }).length, 'smaller than without compression');
  });
  it('round_robin keeps CNAMEs first and shuffles address records', () => {
    const r: Answer[] = [{ name: 'a', type: 'CNAME', data: 'b' }, ...manyA(8).answers];
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const out = roundRobin(r);
      assert.equal(out[0]!.type, 'CNAME');
      assert.equal(out.length, 9);
      orders.add(out.map((a) => String((a as { data: unknown }).data)).join());
    }
    assert.ok(orders.size > 1, 'the order changes');
  });
  it('encodeQuery builds a recursive query the decoder reads back', () => {
    const d = packet.decode(encodeQuery('example.org.', 'AAAA', { id: 9 }));
    assert.equal(d.id, 9);
    assert.equal(d.flag_rd, true);
    assert.deepEqual(d.questions, [{ name: 'example.org', type: 'AAAA', class: 'IN' }]);
  });
});
