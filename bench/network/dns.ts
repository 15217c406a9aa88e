// DNS benchmark: queries per second and latency of cached Service lookups (the same names asked
// again and again, as pods do) from concurrent UDP clients against the DNS server in its own
// process, with kubeadm's default Corefile. Target (issue 8): ≥ 10,000 qps on one core, p99 ≤ 5 ms.
// Standalone: node dist/bench/network/dns.js [--services 1000] [--clients 16] [--seconds 5]
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeQuery } from '../../src/network/dns/wire.js';

export interface DnsBenchOptions {
  /** Services the server holds (10 endpoints each). Default 1,000. */
  services?: number;
  /** Concurrent clients, each with one query in flight. Default 16. */
  clients?: number;
  /** Measured time (after a 1 s warm-up). Default 5 s. */
  durationMs?: number;
  /** Distinct names asked (all cached after the warm-up). Default 100. */
  names?: number;
}

export interface DnsBenchResult {
  services: number;
  clients: number;
  queries: number;
  errors: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU the server process used while measured, in cores (1.0 = one core busy). */
  serverCores: number;
  /** qps divided by serverCores: what one fully used core serves. */
  qpsPerCore: number;
}

const SERVER = fileURLToPath(new URL('./dnsServer.js', import.meta.url));

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs the benchmark; starts and stops its own server process. */
export async function benchDnsCachedLookups(opts: DnsBenchOptions = {}): Promise<DnsBenchResult> {
  const services = opts.services ?? 1000;
  const clients = opts.clients ?? 16;
  const durationMs = opts.durationMs ?? 5000;
  const names = Math.min(opts.names ?? 100, services);
  const child = spawn(process.execPath, [SERVER, String(services)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /\{"port":(\d+)\}/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`DNS bench server exited (${code})`)));
    });
    const queries = Array.from({ length: names }, (_, i) => encodeQuery(`svc-${(i * 7919) % services}.bench.svc.cluster.local`, 'A', { id: 0 }));
    let phase: 'warmup' | 'measure' | 'done' = 'warmup';
    const latencies: number[] = [];
    let errors = 0;
    const runClient = (c: number) =>
      new Promise<void>((resolve) => {
        const sock = dgram.createSocket('udp4');
        let n = c;
        let id = 0;
        let sentAt = 0n;
        // One sweep per client replaces a timer per query: a datagram lost for 1 s is an error, not a stall.
        const sweep = setInterval(() => {
          if (phase !== 'done' && sentAt > 0n && process.hrtime.bigint() - sentAt > 1_000_000_000n) {
            if (phase === 'measure') errors++;
            send();
          }
        }, 200);
        const send = () => {
          if (phase === 'done') {
            clearInterval(sweep);
            sock.close();
            resolve();
            return;
          }
          const q = queries[n++ % queries.length]!;
          id = (id + 1) & 0xffff;
          q.writeUInt16BE(id, 0);
          sentAt = process.hrtime.bigint();
          sock.send(q);
        };
        sock.on('message', (msg) => {
          if (msg.readUInt16BE(0) !== id) return;
          if (phase === 'measure') {
            if ((msg.readUInt16BE(2) & 0xf) !== 0 || msg.readUInt16BE(6) !== 1) errors++;
            latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
          }
          send();
        });
        sock.bind(0, '127.0.0.1', () => {
          sock.connect(port, '127.0.0.1', send);
        });
      });
    const running = Array.from({ length: clients }, (_, c) => runClient(c));
    await new Promise((r) => setTimeout(r, 1000));
    phase = 'measure';
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, durationMs));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = cpuSeconds(child.pid!);
    phase = 'done';
    await Promise.all(running);
    const sorted = Float64Array.from(latencies).sort();
    const qps = latencies.length / elapsed;
    const serverCores = (cpu1 - cpu0) / elapsed;
    return {
      services,
      clients,
      queries: latencies.length,
      errors,
      qps: Math.round(qps),
      p50Ms: Number(percentile(sorted, 50).toFixed(3)),
      p99Ms: Number(percentile(sorted, 99).toFixed(3)),
      maxMs: Number((sorted[sorted.length - 1] ?? NaN).toFixed(3)),
      serverCores: Number(serverCores.toFixed(2)),
      qpsPerCore: Math.round(qps / Math.max(serverCores, 0.01)),
    };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, def: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
  const r = await benchDnsCachedLookups({ services: arg('--services', 1000), clients: arg('--clients', 16), durationMs: arg('--seconds', 5) * 1000 });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`DNS cached service lookups: ${r.qps} qps from ${r.clients} clients (server ${r.serverCores} cores → ${r.qpsPerCore} qps/core), p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.errors} errors\n`);
}
