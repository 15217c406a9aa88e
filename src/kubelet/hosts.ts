// The pod's hostname/domain and the `/etc/hosts` the kubelet writes for it (upstream kubelet_pods.go:
// GeneratePodHostNameAndDomain, makeHostsMount, ensureHostsFile, managedHostsFileContent).
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostAlias, Pod } from 'kubernetes-types/core/v1.js';
import type { Mount } from './runtime/types.js';
import { logger } from '../util/log.js';

export const MANAGED_HOSTS_HEADER = '# Kubernetes-managed hosts file.\n';
export const MANAGED_HOSTS_HEADER_WITH_HOST_NETWORK = '# Kubernetes-managed hosts file (host network).\n';
const HOSTNAME_MAX_LEN = 63;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const log = logger('kubelet-hosts');

/** An expected failure to name the pod (an invalid hostname or subdomain); the kubelet fails the sandbox with this message. */
export class PodHostnameError extends Error {
  override readonly name = 'PodHostnameError';
}

function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > HOSTNAME_MAX_LEN) errs.push(`must be no more than ${HOSTNAME_MAX_LEN} characters`);
  if (!DNS1123_LABEL.test(value)) {
    errs.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return errs;
}

/** Cuts a hostname to 63 characters without a trailing `-` or `.` (upstream truncatePodHostnameIfNeeded). */
export function truncatePodHostname(podName: string, hostname: string): string {
  if (hostname.length <= HOSTNAME_MAX_LEN) return hostname;
  const truncated = hostname.slice(0, HOSTNAME_MAX_LEN).replace(/[-.]+$/, '');
  log.error({ podName, hostnameMaxLen: HOSTNAME_MAX_LEN, truncatedHostname: truncated }, 'hostname for pod was too long, truncated it');
  if (truncated === '') throw new PodHostnameError(`hostname for pod "${podName}" was invalid: "${hostname}"`);
  return truncated;
}

/**
 * The pod's hostname (spec.hostname or the pod name, truncated to 63) and domain
 * (`<subdomain>.<ns>.svc.<clusterDomain>` when spec.subdomain is set, else empty).
 */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; hostDomain: string } {
  const name = pod.metadata?.name ?? '';
  let hostname = name;
  const specHostname = pod.spec?.hostname ?? '';
  if (specHostname !== '') {
    const errs = dns1123LabelErrors(specHostname);
    if (errs.length > 0) throw new PodHostnameError(`pod Hostname "${specHostname}" is not a valid DNS label: ${errs.join(';')}`);
    hostname = specHostname;
  }
  hostname = truncatePodHostname(name, hostname);
  let hostDomain = '';
  const sub = pod.spec?.subdomain ?? '';
  if (sub !== '') {
    const errs = dns1123LabelErrors(sub);
    if (errs.length > 0) throw new PodHostnameError(`pod Subdomain "${sub}" is not a valid DNS label: ${errs.join(';')}`);
    hostDomain = `${sub}.${pod.metadata?.namespace ?? 'default'}.svc.${clusterDomain}`;
  }
  return { hostname, hostDomain };
}

/** The `# Entries added by HostAliases.` block (empty without aliases). */
export function hostsEntriesFromHostAliases(aliases: readonly HostAlias[] | undefined): string {
  if (!aliases || aliases.length === 0) return '';
  let out = '\n# Entries added by HostAliases.\n';
  for (const a of aliases) out += `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`;
  return out;
}

/** /etc/hosts for a pod on the pod network: localhost lines, each pod IP with its names, then host aliases. */
export function managedHostsFileContent(podIPs: readonly string[], hostname: string, hostDomain: string, aliases?: readonly HostAlias[]): string {
  let out = MANAGED_HOSTS_HEADER;
  out += '127.0.0.1\tlocalhost\n';
  out += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  out += 'fe00::0\tip6-localnet\n';
  out += 'fe00::0\tip6-mcastprefix\n';
  out += 'fe00::1\tip6-allnodes\n';
  out += 'fe00::2\tip6-allrouters\n';
  for (const ip of podIPs) out += hostDomain ? `${ip}\t${hostname}.${hostDomain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return out + hostsEntriesFromHostAliases(aliases);
}

/** /etc/hosts for a host-network pod: the node's own hosts file under a header, plus host aliases. */
export function nodeHostsFileContent(nodeHosts: string, aliases?: readonly HostAlias[]): string {
  return MANAGED_HOSTS_HEADER_WITH_HOST_NETWORK + nodeHosts + hostsEntriesFromHostAliases(aliases);
}

/**
 * Whether containers get the managed /etc/hosts: pods on the pod network once they have an IP, and
 * host-network pods; never a container that mounts a volume at /etc/hosts itself.
 */
export function shouldMountHostsFile(pod: Pod, podIPs: readonly string[], containerMountPaths: readonly string[] = []): boolean {
  return (podIPs.length > 0 || pod.spec?.hostNetwork === true) && !containerMountPaths.includes('/etc/hosts');
}

export interface HostsFileOptions {
  /** The pod's directory (`<podsDir>/<uid>`); the file is `<podDir>/etc-hosts`, as upstream. */
  podDir: string;
  podIPs: readonly string[];
  hostname: string;
  hostDomain: string;
  hostAliases?: readonly HostAlias[];
  hostNetwork: boolean;
  /** The node's hosts file for host-network pods (default `/etc/hosts`). */
  nodeHostsPath?: string;
}

/**
 * Writes `<podDir>/etc-hosts` (mode 0644) and returns the container mount for /etc/hosts. Upstream rewrites
 * it for every container it starts, in place: containers bind-mount the file, so a rename would leave running
 * containers on the old inode.
 */
export async function ensureHostsFile(o: HostsFileOptions): Promise<Mount> {
  const path = join(o.podDir, 'etc-hosts');
  const content = o.hostNetwork
    ? nodeHostsFileContent(await readFile(o.nodeHostsPath ?? '/etc/hosts', 'utf8'), o.hostAliases)
    : managedHostsFileContent(o.podIPs, o.hostname, o.hostDomain, o.hostAliases);
  await writeFile(path, content, { mode: 0o644 });
  await chmod(path, 0o644);
  return { containerPath: '/etc/hosts', hostPath: path, readonly: false, selinuxRelabel: true };
}
