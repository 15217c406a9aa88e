// The k8ts command line: one entry, a subcommand per component.
import { Command, InvalidArgumentError } from 'commander';
import { defaultDataDir } from './paths.js';
import type { ServerCommandOptions } from './serverCommand.js';
import { addNodeFlags } from './agentCommand.js';

/** What `k8ts server --disable` accepts, as k3s's packaged components. */

export async function main(argv: string[]): Promise<void> {
  const program = new Command('k8ts')
    .description('Kubernetes, written in TypeScript')
    .showHelpAfterError()
    .enablePositionalOptions();

  const serverCmd = program
    .command('server')
    .description('start a single-node k8ts server: datastore, API server, scheduler and controller manager (the agent joins as it lands)')
    .option('--data-dir <dir>', 'state directory', defaultDataDir())
    .option('--https-listen-port <port>', 'HTTPS port of the API server', parsePort, 6443)
    .option('--bind-address <ip>', 'address the API server listens on', '0.0.0.0')
    .option('--advertise-address <ip>', 'address the kubernetes Service endpoints point at (default: the first host IPv4)')
    .option('--write-kubeconfig <file>', 'where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)')
    .option('--datastore-endpoint <url>', 'sqlite://[path] (default, embedded) or http(s)://host:2379[,…] for etcd')
    .option('--datastore-cafile <file>', 'CA for the etcd datastore')
    .option('--datastore-certfile <file>', 'client certificate for the etcd datastore')
    .option('--datastore-keyfile <file>', 'client key for the etcd datastore')
    .option('--datastore-listen <url>', "also serve the embedded datastore over etcd's v3 API here (e.g. http://127.0.0.1:2379), for etcdctl")
    .option('--tls-san <name>', 'extra name or IP for the serving certificate (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--token-auth-file <file>', 'static bearer tokens (CSV: token,user,uid,"group1,group2")')
    .option('--disable-agent', 'run only the control plane (no kubelet on this machine)', false)
    .option('--disable-scheduler', 'do not run the scheduler in this process', false)
    .option('--disable-controller-manager', 'do not run the controllers in this process', false)
    .option('--cluster-cidr <cidr>', 'CIDR range for pods (each node gets a /24 of it)', '10.244.0.0/16')
    .option('--disable <names>', 'do not run these packaged components: coredns, servicelb, local-storage (comma-separated, repeatable)', collectList, [] as string[])
    .option('--servicelb-pool <addresses>', 'addresses ServiceLB gives LoadBalancer Services: IPs, CIDRs, FIRST-LAST ranges (comma-separated, repeatable; default the nodes\' addresses)', collectList, [] as string[])
    .option('--service-cluster-ip-range <cidrs>', 'CIDR (or IPv4,IPv6 pair) Service cluster IPs are allocated from; the kubernetes Service gets its first address', '10.96.0.0/12')
    .option('--service-node-port-range <range>', 'port range NodePort Services are allocated from', '30000-32767')
    .option('--service-cidr <cidr>', 'k3s\'s name for --service-cluster-ip-range')
    .option('--disable-kube-proxy', 'do not run kube-proxy (the kube-proxy DaemonSet)', false)
    .option('--etcd-compaction-interval <duration>', 'how often history older than this is compacted (0 = never)', parseDuration, 5 * 60_000)
    .option('--cluster-signing-duration <duration>', 'longest certificate csrsigning issues, e.g. kubelet client certificates (kube-controller-manager\'s flag)', parseDuration, 365 * 24 * 3600_000)
    .action(async (opts: ServerCommandOptions) => {
      const { runServerCommand } = await import('./serverCommand.js');
      await runServerCommand(opts);
    });
  addNodeFlags(serverCmd);

  addNodeFlags(
    program
      .command('agent')
      .description('run a node (kubelet) that joins a k8ts server, like k3s agent; or --simulated nodes, like kwok')
      .option('--server <url>', 'the server to join, https://HOST:PORT')
      .option('--token <token>', "the server's node token (<server data-dir>/server/node-token)")
      .option('--token-file <file>', 'read the token from this file')
      .option('--ca-file <file>', 'the cluster CA, when the token carries no CA hash')
      .option('--data-dir <dir>', 'state directory of this node', defaultDataDir())
      .option('--kubeconfig <file>', 'with --simulated: a kubeconfig to register the nodes with')
      .option('--simulated', 'register simulated nodes that run no containers (like kwok)', false)
      .option('--nodes <n>', 'with --simulated: how many nodes', (v: string) => Number.parseInt(v, 10), 1),
  ).action(async (opts: import('./agentCommand.js').AgentCommandOptions) => {
    const { runAgentCommand } = await import('./agentCommand.js');
    await runAgentCommand(opts);
  });

  const { registerImagesCommand } = await import('./imagesCommand.js');
  registerImagesCommand(program);
  program
    .command('killall')
    .description("stop every container and pod of this node and unmount its volumes (like k3s-killall.sh); the cluster's data stays")
    .option('--data-dir <dir>', 'state directory of the node', defaultDataDir())
    .option('--cni-bridge <name>', 'also delete this pod network bridge')
    .action(async (opts: import('./killallCommand.js').KillallOptions) => {
      const { runKillall } = await import('./killallCommand.js');
      await runKillall(opts);
    });
  const { registerCrictlCommand } = await import('./crictlCommand.js');
  registerCrictlCommand(program);

  program
    .command('scheduler')
    .description('run the scheduler against a cluster, like kube-scheduler')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default $KUBECONFIG or ~/.kube/config, or the config file\'s clientConnection.kubeconfig)')
    .option('--config <file>', 'a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) file')
    .option('--leader-elect [bool]', 'elect a leader on the kube-system/kube-scheduler Lease before scheduling (default true, or the config file\'s)', parseBool)
    .option('--secure-port <port>', 'HTTPS port for /healthz and /metrics (0 = none)', parsePortOrZero, 10259)
    .option('--bind-address <ip>', 'address for --secure-port', '0.0.0.0')
    .action(async (opts: import('./schedulerCommand.js').SchedulerCommandOptions) => {
      const { runSchedulerCommand } = await import('./schedulerCommand.js');
      await runSchedulerCommand(opts);
    });

  program
    .command('controller-manager')
    .description('run the controllers against a cluster, like kube-controller-manager')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default $KUBECONFIG or ~/.kube/config)')
    .option('--controllers <list>', 'controllers to run: * for all enabled by default, foo to enable, -foo to disable', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean), ['*'])
    .option('--leader-elect [bool]', 'elect a leader on the kube-system/kube-controller-manager Lease first', parseBool, true)
    .option('--secure-port <port>', 'HTTPS port for /healthz and /metrics (0 = none)', parsePortOrZero, 10257)
    .option('--bind-address <ip>', 'address for --secure-port', '0.0.0.0')
    .option('--root-ca-file <file>', 'CA published as kube-root-ca.crt in every namespace (default: the kubeconfig\'s CA)')
    .option('--cluster-signing-cert-file <file>', 'CA certificate csrsigning signs cluster-scoped certificates with')
    .option('--cluster-signing-key-file <file>', 'the key of --cluster-signing-cert-file')
    .option('--cluster-signing-duration <duration>', 'longest certificate csrsigning issues', parseDuration, 365 * 24 * 3600_000)
    .option('--cluster-cidr <cidr>', 'CIDR range for pods', '10.244.0.0/16')
    .option('--servicelb-pool <addresses>', 'addresses service-lb-controller (ServiceLB) gives LoadBalancer Services: IPs, CIDRs, FIRST-LAST ranges (comma-separated, repeatable; default the nodes\' addresses)', collectList, [] as string[])
    .option('--allocate-node-cidrs [bool]', 'assign each node a podCIDR from --cluster-cidr', parseBool, true)
    .option('--node-cidr-mask-size <bits>', 'prefix length of each node\'s podCIDR', parseIntArg, 24)
    .option('--node-monitor-grace-period <duration>', 'how long a node may stop renewing its lease before it is marked unhealthy', parseDuration, 40_000)
    .option('--node-monitor-period <duration>', 'how often node health is checked', parseDuration, 5_000)
    .option('--node-eviction-rate <perSecond>', 'nodes per second whose pods are evicted when zones are healthy', parseFloatArg, 0.1)
    .option('--secondary-node-eviction-rate <perSecond>', 'the same for unhealthy zones', parseFloatArg, 0.01)
    .option('--terminated-pod-gc-threshold <n>', 'terminated pods kept before the pod GC deletes the oldest', parseIntArg, 12500)
    .option('--concurrent-deployment-syncs <n>', 'deployments synced at once', parseIntArg, 5)
    .option('--concurrent-replicaset-syncs <n>', 'replica sets synced at once', parseIntArg, 5)
    .option('--concurrent-job-syncs <n>', 'jobs synced at once', parseIntArg, 5)
    .option('--concurrent-endpoint-syncs <n>', 'endpoints synced at once', parseIntArg, 5)
    .option('--concurrent-service-endpoint-syncs <n>', 'endpoint slices synced at once', parseIntArg, 5)
    .option('--concurrent-gc-syncs <n>', 'garbage collector workers', parseIntArg, 20)
    .option('--concurrent-namespace-syncs <n>', 'namespaces synced at once', parseIntArg, 10)
    .option('--concurrent-statefulset-syncs <n>', 'stateful sets synced at once', parseIntArg, 5)
    .option('--concurrent-daemonset-syncs <n>', 'daemon sets synced at once', parseIntArg, 2)
    .option('--concurrent-cron-job-syncs <n>', 'cron jobs synced at once', parseIntArg, 5)
    .option('--kube-api-qps <qps>', 'requests per second to the API server', parseFloatArg, 20)
    .option('--kube-api-burst <n>', 'burst of requests to the API server', parseIntArg, 30)
    .action(async (opts: import('./controllerManagerCommand.js').ControllerManagerCommandOptions) => {
      const { runControllerManagerCommand } = await import('./controllerManagerCommand.js');
      await runControllerManagerCommand(opts);
    });

  program
    .command('proxy')
    .description('run kube-proxy: program Services into iptables (or nftables, ipvs) on this node')
    .option('--kubeconfig <file>', "kubeconfig of the cluster (default: the config file's clientConnection.kubeconfig, else in-cluster, else $KUBECONFIG or ~/.kube/config)")
    .option('--config <file>', 'a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) file; flags override it')
    .option('--hostname-override <name>', 'the name of this node, if not the host name')
    .option('--proxy-mode <mode>', 'iptables (default), nftables or ipvs')
    .option('--cluster-cidr <cidr>', 'the pod network; traffic to services from outside it is masqueraded')
    .option('--healthz-bind-address <ip:port>', 'where /healthz and /livez answer (default 0.0.0.0:10256)')
    .option('--metrics-bind-address <ip:port>', 'where /metrics answers (default 127.0.0.1:10249)')
    .option('--masquerade-all', 'masquerade all traffic sent to cluster IPs')
    .option('--nodeport-addresses <cidrs>', 'CIDRs (or "primary") of the node addresses NodePorts answer on (default: all)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--iptables-tools <flavour>', 'iptables mode: run the system\'s iptables (default), or iptables-nft or iptables-legacy explicitly (system, nft, legacy)')
    .option('--cleanup', 'remove the rules of every proxy mode, then exit', false)
    .action(async (opts: import('./proxyCommand.js').ProxyCommandOptions) => {
      const { runProxyCommand } = await import('./proxyCommand.js');
      await runProxyCommand(opts);
    });

  program
    .command('dns')
    .description('run the cluster DNS server (the coredns Deployment\'s container), answering *.cluster.local from the API and forwarding the rest')
    .option('--conf <Corefile>', 'Corefile to load (default: kubeadm\'s default Corefile for --cluster-domain)')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)')
    .option('--dns-port <port>', 'port to serve DNS on, overriding the Corefile\'s (0 = any free port)', parsePortOrZero)
    .option('--listen <addr>', 'address to listen on, overriding the Corefile\'s bind (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--cluster-domain <domain>', 'cluster domain of the default Corefile', 'cluster.local')
    .option('--pidfile <file>', 'write the process id here')
    .option('--plugins', 'list the plugins this server supports and exit', false)
    .option('--quiet', 'do not print the startup banner', false)
    .action(async (opts: import('./dnsCommand.js').DnsCommandOptions) => {
      const { runDnsCommand } = await import('./dnsCommand.js');
      await runDnsCommand(opts);
    });

  const datastore = program.command('datastore').description('the embedded SQLite datastore');
  datastore
    .command('serve')
    .description("serve the SQLite datastore over etcd's v3 gRPC API, so etcdctl (and an etcd client) can use it")
    .option('--data-dir <dir>', 'state directory (the database is <dir>/db/state.db)', defaultDataDir())
    .option('--listen-client-urls <url>', 'http://host:port, https://host:port or unix:///path', 'http://127.0.0.1:2379')
    .option('--cert-file <file>', 'TLS certificate for an https:// URL')
    .option('--key-file <file>', 'TLS key for an https:// URL')
    .option('--trusted-ca-file <file>', 'CA that client certificates must be signed by')
    .option('--auto-compaction-retention <duration>', 'history kept before automatic compaction (0 = off)', parseDuration, 5 * 60_000)
    .action(
      async (opts: {
        dataDir: string;
        listenClientUrls: string;
        certFile?: string;
        keyFile?: string;
        trustedCaFile?: string;
        autoCompactionRetention: number;
      }) => {
        const { datastoreServe } = await import('./datastore.js');
        await datastoreServe({
          dataDir: opts.dataDir,
          listen: opts.listenClientUrls,
          retentionMs: opts.autoCompactionRetention,
          tls: opts.certFile && opts.keyFile ? { certFile: opts.certFile, keyFile: opts.keyFile, caFile: opts.trustedCaFile } : undefined,
        });
      },
    );

  await program.parseAsync(argv);
}

function parseBool(text: string | undefined): boolean {
  if (text === undefined || text === 'true') return true;
  if (text === 'false') return false;
  throw new InvalidArgumentError(`"${text}" is not true or false`);
}

function parseIntArg(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${text}" is not a non-negative integer`);
  return n;
}

function parseFloatArg(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${text}" is not a non-negative number`);
  return n;
}

function parsePortOrZero(text: string): number {
  return text === '0' ? 0 : parsePort(text);
}

/** Parses Go-style durations as upstream flags take them: 90s, 5m, 1h30m, 250ms; a bare number is seconds. */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new InvalidArgumentError(`"${text}" is not a duration (examples: 30s, 5m, 1h30m)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${text}" is not a port number`);
  return n;
}

/** A repeatable option whose values may also be comma-separated: `--x a,b --x c` → [a, b, c]. */
function collectList(text: string, acc: string[]): string[] {
  return [...acc, ...text.split(',').map((s) => s.trim()).filter(Boolean)];
}
