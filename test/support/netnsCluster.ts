// Several nodes on one machine, as kind does with containers: a `k8ts server` on the host and
// `k8ts agent`s, each in its own network namespace joined to a host bridge, that join with the node
// token (TLS bootstrap). Used by the end-to-end tests that need more than one node.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startK8tsServer, type RunningServer } from './k8tsServer.js';
import { tempDir } from './tmp.js';
import { waitFor } from './waitFor.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();

export interface NetnsAgent {
  name: string;
  netns: string;
  ip: string;
  dir: ReturnType<typeof tempDir>;
  proc?: ChildProcess;
  log: string;
}

export interface NetnsCluster {
  server: RunningServer;
  agents: NetnsAgent[];
  /** The host's address on the bridge (the server's advertised address). */
  hostIP: string;
  /** Pod network of the cluster: 10.<r>.0.0/16. */
  r: number;
  /** kubectl that throws on a non-zero exit. */
  k(...args: string[]): Promise<string>;
  /** Imports an image archive into every agent's runtime. */
  importImage(archive: string): void;
  /** Deletes pods, stops the agents and their containers, removes namespaces, bridge and server. */
  stop(opts?: { allNamespaces?: boolean }): Promise<void>;
}

/**
 * Starts the server and `agents` agents named `<prefix>-1…`, on the bridge `k8ts<prefix><r>` with
 * addresses 172.<subnet>.<r>.0/24 (host .1, agents .11, .12…). `addons` deploys kube-proxy and
 * CoreDNS as the server does by default.
 */
export async function startNetnsCluster(opts: { prefix: string; subnet: number; agents?: number; addons?: boolean }): Promise<NetnsCluster> {
  const r = Math.floor(Math.random() * 200) + 20;
  const bridge = `k8ts${opts.prefix}${r}`;
  const hostIP = `172.${opts.subnet}.${r}.1`;
  const agents: NetnsAgent[] = Array.from({ length: opts.agents ?? 2 }, (_, i) => ({
    name: `${opts.prefix}-${i + 1}`,
    netns: `k8ts-t-${opts.prefix}${r}-${i + 1}`,
    ip: `172.${opts.subnet}.${r}.${11 + i}`,
    dir: tempDir(`k8ts-${opts.prefix}-${i + 1}-`),
    log: '',
  }));
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('addr', 'add', `${hostIP}/24`, 'dev', bridge);
  ip('link', 'set', bridge, 'up');
  for (const [i, a] of agents.entries()) {
    const [hostEnd, nodeEnd] = [`k8ts${opts.prefix[0]}${r}h${i}`, `k8ts${opts.prefix[0]}${r}n${i}`];
    ip('netns', 'add', a.netns);
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nodeEnd);
    ip('link', 'set', hostEnd, 'master', bridge, 'up');
    ip('link', 'set', nodeEnd, 'netns', a.netns);
    ip('-n', a.netns, 'link', 'set', nodeEnd, 'name', 'eth0');
    ip('-n', a.netns, 'addr', 'add', `${a.ip}/24`, 'dev', 'eth0');
    ip('-n', a.netns, 'link', 'set', 'eth0', 'up');
    ip('-n', a.netns, 'link', 'set', 'lo', 'up');
    ip('-n', a.netns, 'route', 'add', 'default', 'via', hostIP);
  }
  const server = await startK8tsServer(['--bind-address', '0.0.0.0', '--advertise-address', hostIP, '--tls-san', hostIP, '--cluster-cidr', `10.${r}.0.0/16`], { readyTimeoutMs: 60_000, addons: opts.addons ?? false });
  const k = async (...args: string[]) => {
    const res = await server.kubectl(args, { timeoutMs: 60_000 });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  const token = readFileSync(join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
  for (const a of agents) {
    a.proc = spawn(
      'nsenter',
      [`--net=/var/run/netns/${a.netns}`, process.execPath, BIN, 'agent', '--server', `https://${hostIP}:${server.port}`, '--token', token, '--data-dir', a.dir.path, '--node-name', a.name, '--node-ip', a.ip, '--runtime', 'process', '--kubelet-port', '0', '--cni-bridge', 'cni0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    a.proc.stderr!.on('data', (d: Buffer) => (a.log = (a.log + d.toString()).slice(-20_000)));
    a.proc.stdout!.on('data', (d: Buffer) => (a.log = (a.log + d.toString()).slice(-20_000)));
  }
  const cluster: NetnsCluster = {
    server,
    agents,
    hostIP,
    r,
    k,
    importImage(archive) {
      for (const a of agents) execFileSync(BIN, ['images', 'import', '--data-dir', a.dir.path, archive], { stdio: 'pipe' });
    },
    async stop(o = {}) {
      await server.kubectl(['delete', 'pods', '--all', ...(o.allNamespaces ? ['-A'] : []), '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 }).catch(() => undefined);
      for (const a of agents) {
        if (a.proc && a.proc.exitCode === null) {
          a.proc.kill('SIGTERM');
          await new Promise((res) => a.proc!.once('exit', res));
        }
        try {
          execFileSync('nsenter', [`--net=/var/run/netns/${a.netns}`, process.execPath, BIN, 'killall', '--data-dir', a.dir.path, '--cni-bridge', 'cni0'], { stdio: 'pipe' });
        } catch {
          // nothing left
        }
        try {
          ip('netns', 'delete', a.netns);
        } catch {
          // already gone
        }
        a.dir.remove();
      }
      try {
        ip('link', 'delete', bridge);
      } catch {
        // already gone
      }
      await server.stop();
    },
  };
  const ready = agents.length;
  await waitFor(`${ready} agents Ready`, async () => ((await k('get', 'nodes', '--no-headers')).match(/\sReady\s/g) ?? []).length === ready, 90_000).catch(async (err: unknown) => {
    const logs = agents.map((a) => a.log.slice(-3000)).join('\n----\n');
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  });
  return cluster;
}
