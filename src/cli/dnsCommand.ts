// `k8ts dns`: the cluster DNS server as its own process, like the coredns binary the `coredns`
// Deployment runs (-conf Corefile, -dns.port), reading the cluster through --kubeconfig or in-cluster config.
import { writeFileSync } from 'node:fs';
import { CorefileError, SUPPORTED_PLUGINS } from '../network/dns/corefile.js';
import { startDns, type StartDnsOptions } from '../network/dns/server.js';

export interface DnsCommandOptions {
  conf?: string;
  kubeconfig?: string;
  dnsPort?: number;
  listen?: string[];
  clusterDomain: string;
  pidfile?: string;
  plugins?: boolean;
  quiet?: boolean;
}

export async function runDnsCommand(opts: DnsCommandOptions): Promise<void> {
  if (opts.plugins) {
    process.stdout.write(`Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n${SUPPORTED_PLUGINS.map((p) => `  dns.${p}`).join('\n')}\n`);
    return;
  }
  const options: StartDnsOptions = { clusterDomain: opts.clusterDomain, processMetrics: true };
  if (opts.conf) options.corefilePath = opts.conf;
  if (opts.kubeconfig) options.kubeconfig = opts.kubeconfig;
  if (opts.dnsPort !== undefined) options.dnsPort = opts.dnsPort;
  if (opts.listen && opts.listen.length > 0) options.listen = opts.listen;
  let running;
  try {
    running = await startDns(options);
  } catch (err) {
    if (err instanceof CorefileError) {
      process.stderr.write(`Error: invalid Corefile${opts.conf ? ` ${opts.conf}` : ''}: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (opts.pidfile) writeFileSync(opts.pidfile, `${process.pid}\n`);
  if (!opts.quiet) {
    process.stdout.write(`.:${running.port}\nCoreDNS-1.11.3 (k8ts)\nlinux/${process.arch === 'x64' ? 'amd64' : process.arch}, ${process.version}\n`);
  }
  const stop = async () => {
    // Lameduck can take seconds; a second signal ends it at once.
    process.once('SIGTERM', () => process.exit(0));
    process.once('SIGINT', () => process.exit(0));
    await running.stop();
  };
  // CoreDNS reloads its Corefile on SIGUSR1.
  process.on('SIGUSR1', () => running.reload());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  const reason = await running.done;
  process.exit(reason ? 1 : 0);
}
