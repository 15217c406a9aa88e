// Where a node's CRI runtime lives under its data dir: the managed containerd's files and the file
// naming the kubelet's runtime endpoint. Plain paths, so `k8ts crictl` finds them without loading gRPC.
import { join } from 'node:path';

/** The runtime-endpoint file under the data dir that `k8ts crictl` reads. */
export function runtimeEndpointFile(dataDir: string): string {
  return join(dataDir, 'agent', 'runtime-endpoint');
}

export interface ContainerdPaths {
  dir: string;
  config: string;
  root: string;
  state: string;
  socket: string;
  pidFile: string;
  logFile: string;
  cniConfDir: string;
  cniDataDir: string;
  runcRoot: string;
}

export function containerdPaths(dataDir: string): ContainerdPaths {
  const dir = join(dataDir, 'agent', 'containerd');
  return {
    dir,
    config: join(dir, 'config.toml'),
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    socket: join(dir, 'containerd.sock'),
    pidFile: join(dir, 'containerd.pid'),
    logFile: join(dir, 'containerd.log'),
    cniConfDir: join(dataDir, 'agent', 'cni', 'net.d'),
    cniDataDir: join(dataDir, 'agent', 'cni', 'networks'),
    runcRoot: join(dir, 'state', 'runc'),
  };
}
