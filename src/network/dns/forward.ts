// The `forward` plugin: sends names the cluster does not own to the upstream resolvers (from
// /etc/resolv.conf by default) over UDP, retrying other upstreams on timeout and asking again over
// TCP when a UDP answer comes back truncated. No upstream answering in time is a SERVFAIL.
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { ForwardPluginConfig } from './corefile.js';
import { CorefileError, matchZone, upstreamAddress } from './corefile.js';
import type { PluginResult } from './kubernetesPlugin.js';
import type { DnsMetrics } from './metrics.js';
import { encodeQuery, rcodeName } from './wire.js';

/** Nameservers of a resolv.conf file, as `ip:53` (IPv6 bracketed). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    try {
      out.push(upstreamAddress(m[1]!.replace(/%.*$/, '')));
    } catch {
      // resolv.conf may hold scoped or odd entries CoreDNS also skips
    }
  }
  return out;
}

/** Resolves the `to` list of a forward directive (files are read now) into upstream addresses. */
export function resolveUpstreams(to: readonly string[], readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  const out: string[] = [];
  for (const t of to) {
    if (t.startsWith('/')) {
      let text: string;
      try {
        text = readFile(t);
      } catch (err) {
        throw new CorefileError(`forward: cannot read ${t}: ${(err as Error).message}`);
      }
      const servers = parseResolvConf(text);
      if (servers.length === 0) throw new CorefileError(`forward: no nameservers found in ${t}`);
      out.push(...servers);
    } else {
      out.push(t);
    }
  }
  return out;
}

function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(addr) ?? /^(.*):(\d+)$/.exec(addr)!;
  return { host: m[1]!, port: Number(m[2]) };
}

const ATTEMPT_TIMEOUT_MS = 2000;
const TOTAL_TIMEOUT_MS = 5000;

export class Forwarder {
  readonly name = 'forward';
  private readonly upstreams: string[];
  /** UDP exchanges in flight, each with its way to end (close() ends them all). */
  private readonly exchanges = new Set<(err: Error) => void>();
  private inflight = 0;
  private rr = 0;
  private closed = false;
  /** Consecutive failures per upstream; at max_fails an upstream is down until a health check passes. */
  private readonly fails = new Map<string, number>();
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly cfg: ForwardPluginConfig,
    upstreams: string[],
    private readonly metrics: DnsMetrics,
    private readonly timeouts = { attemptMs: ATTEMPT_TIMEOUT_MS, totalMs: TOTAL_TIMEOUT_MS },
  ) {
    if (upstreams.length === 0) throw new CorefileError('forward: no upstreams');
    this.upstreams = upstreams;
  }

  /** Whether `name` (lowercase, fully qualified) is forwarded by this plugin. */
  handles(name: string): boolean {
    return matchZone([this.cfg.from], name) !== undefined && matchZone(this.cfg.except, name) === undefined;
  }

  upstreamList(): readonly string[] {
    return this.upstreams;
  }

  /**
   * Forwards `query` (a whole DNS message; its ID is replaced) and returns the answer as a plugin
   * result, or SERVFAIL when no upstream answers, REFUSED above max_concurrent.
   */
  async forward(query: Buffer, question: { name: string; type: string }, viaTcp: boolean): Promise<PluginResult> {
    if (this.cfg.maxConcurrent > 0 && this.inflight >= this.cfg.maxConcurrent) {
      this.metrics.forwardMaxConcurrentRejects.inc();
      return { rcode: 'REFUSED', answers: [], authorities: [], additionals: [], authoritative: false, plugin: this.name };
    }
    this.inflight++;
    try {
      const deadline = Date.now() + this.timeouts.totalMs;
      const order = this.order();
      let lastError = 'no upstream tried';
      for (let attempt = 0; Date.now() < deadline && !this.closed; attempt++) {
        const to = order[attempt % order.length]!;
        const started = process.hrtime.bigint();
        this.metrics.forwardRequests.labels(to).inc();
        try {
          const tcp = this.cfg.forceTcp || (viaTcp && !this.cfg.preferUdp);
          let reply = await this.exchange(to, query, tcp, Math.min(this.timeouts.attemptMs, deadline - Date.now()));
          let decoded = this.check(reply, question);
          if (!tcp && decoded.flag_tc && !this.cfg.preferUdp) {
            // The answer did not fit in UDP: ask the same upstream again over TCP.
            reply = await this.exchange(to, query, true, Math.min(this.timeouts.attemptMs, Math.max(1, deadline - Date.now())));
            decoded = this.check(reply, question);
          }
          const rcode = rcodeName((decoded.flags ?? 0) & 0xf);
          this.fails.set(to, 0);
          this.metrics.forwardResponses.labels(to, rcode).inc();
          this.metrics.proxyDuration.labels('forward', to, rcode).observe(Number(process.hrtime.bigint() - started) / 1e9);
          return {
            rcode,
            answers: decoded.answers ?? [],
            authorities: decoded.authorities ?? [],
            additionals: (decoded.additionals ?? []).filter((a) => a.type !== 'OPT'),
            authoritative: decoded.flag_aa,
            recursionAvailable: decoded.flag_ra,
            truncated: decoded.flag_tc,
            plugin: this.name,
          };
        } catch (err) {
          lastError = `${to}: ${(err as Error).message}`;
          this.markFailed(to);
        }
      }
      return { rcode: 'SERVFAIL', answers: [], authorities: [], additionals: [], authoritative: false, plugin: this.name, error: lastError };
    } finally {
      this.inflight--;
    }
  }

  private down(to: string): boolean {
    return this.cfg.maxFails > 0 && (this.fails.get(to) ?? 0) >= this.cfg.maxFails;
  }

  private markFailed(to: string): void {
    this.fails.set(to, (this.fails.get(to) ?? 0) + 1);
    if (this.down(to) && !this.healthTimer && !this.closed) this.healthTimer = setTimeout(() => void this.healthCheck(), this.cfg.healthCheckMs);
  }

  /** Asks each down upstream for ". IN NS" (as CoreDNS's health check); an answer brings it back. */
  private async healthCheck(): Promise<void> {
    this.healthTimer = undefined;
    if (this.closed) return;
    const probe = encodeQuery('.', 'NS');
    await Promise.all(
      this.upstreams.filter((u) => this.down(u)).map(async (to) => {
        try {
          await this.exchange(to, probe, this.cfg.forceTcp, Math.min(this.timeouts.attemptMs, 1000));
          this.fails.set(to, 0);
        } catch {
          this.metrics.proxyHealthcheckFailures.labels('forward', to).inc();
        }
      }),
    );
    if (this.upstreams.every((u) => this.down(u))) this.metrics.forwardHealthcheckBroken.inc();
    if (!this.closed && this.upstreams.some((u) => this.down(u))) {
      this.healthTimer = setTimeout(() => void this.healthCheck(), this.cfg.healthCheckMs);
      this.healthTimer.unref();
    }
  }

  /** Upstreams in policy order, healthy ones first (when every one is down, all are tried anyway). */
  private order(): string[] {
    const healthy = this.policyOrder().filter((u) => !this.down(u));
    const down = this.upstreams.filter((u) => this.down(u));
    return healthy.length > 0 ? [...healthy, ...down] : this.policyOrder();
  }

  private policyOrder(): string[] {
    const list = [...this.upstreams];
    if (this.cfg.policy === 'sequential') return list;
    if (this.cfg.policy === 'round_robin') {
      const start = this.rr++ % list.length;
      return [...list.slice(start), ...list.slice(0, start)];
    }
    for (let i = list.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list;
  }

  private check(reply: Buffer, question: { name: string; type: string }): DecodedPacket {
    const decoded = packet.decode(reply);
    const q = decoded.questions?.[0];
    // An answer to another question is not ours (spoofed, or a late reply to an earlier query).
    if (!decoded.flag_qr || !q || q.name.toLowerCase() !== question.name.replace(/\.$/, '').toLowerCase() || q.type !== question.type) {
      throw new Error('upstream answered a different question');
    }
    return decoded;
  }

  private exchange(to: string, query: Buffer, tcp: boolean, timeoutMs: number): Promise<Buffer> {
    return tcp ? this.exchangeTcp(to, query, timeoutMs) : this.exchangeUdp(to, query, timeoutMs);
  }

  /**
   * One UDP exchange on a socket of its own: a fresh random source port and a random ID per query
   * (as CoreDNS's connections), so an off-path spoofer has 32 bits to guess, not 16.
   */
  private exchangeUdp(to: string, query: Buffer, timeoutMs: number): Promise<Buffer> {
    const { host, port } = splitHostPort(to);
    const id = randomInt(65536);
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      let finished = false;
      const done = (err: Error | undefined, buf?: Buffer) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.exchanges.delete(done);
        sock.close();
        if (err) reject(err);
        else resolve(buf!);
      };
      this.exchanges.add(done);
      const timer = setTimeout(() => done(new Error(`i/o timeout after ${timeoutMs} ms`)), timeoutMs);
      sock.on('message', (msg, rinfo) => {
        // Only the upstream, answering this ID, counts; anything else is ignored.
        if (msg.length < 2 || rinfo.port !== port || rinfo.address !== host || msg.readUInt16BE(0) !== id) return;
        const copy = Buffer.from(msg);
        copy.writeUInt16BE(query.readUInt16BE(0), 0);
        done(undefined, copy);
      });
      sock.on('error', (err) => done(err));
      sock.send(out, port, host, (err) => {
        if (err) done(err);
      });
    });
  }

  private exchangeTcp(to: string, query: Buffer, timeoutMs: number): Promise<Buffer> {
    const { host, port } = splitHostPort(to);
    return new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect({ host, port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`i/o timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length, 0);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer);
          sock.destroy();
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        reject(new Error('connection closed before an answer'));
      });
    });
  }

  close(): void {
    this.closed = true;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    for (const end of [...this.exchanges]) end(new Error('forwarder stopped'));
  }
}
