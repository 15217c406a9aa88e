// A small upstream DNS server on loopback for forwarding tests (never the internet): answers A/AAAA/
// PTR/TXT from a table, NXDOMAIN otherwise, over UDP and TCP; can stay silent or truncate over UDP.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as packet from 'dns-packet';
import type { Answer } from 'dns-packet';

export interface FakeUpstream {
  port: number;
  /** `127.0.0.1:port`. */
  address: string;
  /** Questions seen, as `name TYPE proto`. */
  queries: string[];
  /** Records to answer with, by lowercase name (no trailing dot). */
  records: Map<string, Answer[]>;
  /** Names to ignore (the client times out). */
  silent: Set<string>;
  /** Names answered with TC and no records over UDP (the full answer only over TCP). */
  truncateUdp: Set<string>;
  stop(): Promise<void>;
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const queries: string[] = [];
  const records = new Map<string, Answer[]>();
  const silent = new Set<string>();
  const truncateUdp = new Set<string>();
  const answer = (msg: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined => {
    let q;
    try {
      q = packet.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    queries.push(`${name} ${question.type} ${proto}`);
    if (silent.has(name)) return undefined;
    const all = records.get(name);
    const matching = (all ?? []).filter((r) => r.type === question.type || r.type === 'CNAME');
    const tc = proto === 'udp' && truncateUdp.has(name);
    const base = { id: q.id ?? 0, type: 'response' as const, questions: [question] };
    if (!all) return packet.encode({ ...base, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | 3, authorities: [{ name: name.split('.').slice(-1)[0] ?? '', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.example', rname: 'host.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 20 } }] });
    return packet.encode({ ...base, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (tc ? packet.TRUNCATED_RESPONSE : 0), answers: tc ? [] : matching });
  };
  // The same port number on UDP and TCP: the UDP port is the kernel's choice, and the TCP one may
  // be taken already (an ephemeral client port, another test), so a clash picks again.
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const out = answer(msg, 'udp');
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const port = udp.address().port;
    const conns = new Set<net.Socket>();
    const tcp = net.createServer((sock) => {
      conns.add(sock);
      sock.on('close', () => conns.delete(sock));
      let buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const out = answer(msg, 'tcp');
          if (!out) continue;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length, 0);
          sock.write(Buffer.concat([len, out]));
        }
      });
      sock.on('error', () => undefined);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => resolve());
      });
    } catch (err) {
      udp.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 20) continue;
      throw err;
    }
    return {
      port,
      address: `127.0.0.1:${port}`,
      queries,
      records,
      silent,
      truncateUdp,
      stop: async () => {
        udp.close();
        for (const c of conns) c.destroy();
        await new Promise((r) => tcp.close(r));
      },
    };
  }
}

/** Sends one raw message over UDP and resolves with the reply (or undefined after `timeoutMs`). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 2000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

/** Sends one message over TCP (2-byte length framing) and resolves with the reply. */
export function tcpExchange(port: number, msg: Buffer, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host }, () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length, 0);
      sock.write(Buffer.concat([len, msg]));
    });
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    sock.on('error', reject);
  });
}
