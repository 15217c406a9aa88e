// k8ts's cluster DNS (CoreDNS's behaviour with kubeadm's Corefile): what other components use.
export { defaultCorefile, parseCorefile, CorefileError, SUPPORTED_PLUGINS, type DnsConfig, type ServerBlockConfig } from './corefile.js';
export { startDns, DnsServer, type RunningDns, type StartDnsOptions } from './server.js';
export { ClusterIndex } from './clusterIndex.js';
