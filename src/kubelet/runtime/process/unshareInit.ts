// The fallback when neither runc nor crun is installed: the same OCI spec, carried out with
// util-linux tools. `nsenter` joins the pod's namespaces, `unshare` makes the container's own
// (mount, and pid unless shared), a host `sh` script joins the cgroups, mounts /proc, a minimal
// /dev, /sys and the bind mounts into the rootfs, records the host pid, then `unshare --root
// --wd --setuid --setgid` execs the process. Isolation-lite: no capability drop, no seccomp,
// no masked paths — say so wherever this mode is chosen.
import { shellQuote } from './tty.js';

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface UnshareInput {
  spec: Record<string, unknown>;
  /** `cgroup.procs` files of the container's cgroup, one per hierarchy. */
  cgroupProcs: string[];
  pidFile: string;
}

const q = (s: string) => shellQuote([s]);

/** argv for the shim: nsenter (pod namespaces) → unshare (own namespaces) → sh -c <init script>. */
export function unshareArgv(input: UnshareInput): string[] {
  const spec = input.spec as {
    root: { path: string; readonly?: boolean };
    mounts: OciMount[];
    process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
    linux: { namespaces: { type: string; path?: string }[] };
  };
  const joins: string[] = [];
  const own: string[] = [];
  for (const ns of spec.linux.namespaces) {
    const flag = { network: 'net', uts: 'uts', ipc: 'ipc', pid: 'pid', mount: 'mount' }[ns.type];
    if (!flag) continue;
    if (ns.path) joins.push(`--${flag}=${ns.path}`);
    else own.push(`--${flag}`);
  }
  const R = spec.root.path;
  const lines = ['set -e'];
  for (const f of input.cgroupProcs) lines.push(`echo 0 > ${q(f)}`);
  lines.push(`mount -t proc -o nosuid,noexec,nodev proc ${q(`${R}/proc`)}`);
  lines.push(`mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs ${q(`${R}/dev`)}`);
  lines.push(`for d in null zero full random urandom tty; do touch ${q(R)}/dev/$d; mount --bind /dev/$d ${q(R)}/dev/$d; done`);
  lines.push(`mkdir -p ${q(`${R}/dev/pts`)} ${q(`${R}/dev/shm`)}`);
  lines.push(`mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts ${q(`${R}/dev/pts`)}`);
  lines.push(`ln -sf pts/ptmx ${q(`${R}/dev/ptmx`)}; ln -sf /proc/self/fd ${q(`${R}/dev/fd`)}`);
  lines.push(`ln -sf /proc/self/fd/0 ${q(`${R}/dev/stdin`)}; ln -sf /proc/self/fd/1 ${q(`${R}/dev/stdout`)}; ln -sf /proc/self/fd/2 ${q(`${R}/dev/stderr`)}`);
  lines.push(`mount -t sysfs -o ro,nosuid,noexec,nodev sysfs ${q(`${R}/sys`)} 2>/dev/null || mount --rbind -o ro /sys ${q(`${R}/sys`)}`);
  for (const m of spec.mounts.filter((x) => x.type === 'bind')) {
    const dst = `${R}${m.destination}`;
    lines.push(`if [ -d ${q(m.source)} ]; then mkdir -p ${q(dst)}; else mkdir -p "$(dirname ${q(dst)})"; [ -e ${q(dst)} ] || touch ${q(dst)}; fi`);
    lines.push(`mount --rbind ${q(m.source)} ${q(dst)}`);
    if (m.options?.includes('ro')) lines.push(`mount -o remount,bind,ro ${q(dst)}`);
  }
  if (spec.root.readonly) lines.push(`mount -o remount,bind,ro ${q(R)} 2>/dev/null || mount --bind ${q(R)} ${q(R)} && mount -o remount,bind,ro ${q(R)}`);
  // The shell's pid as the host sees it (the host /proc is still mounted at /proc here).
  lines.push(`cut -d' ' -f4 /proc/self/stat > ${q(`${input.pidFile}.tmp`)}; mv ${q(`${input.pidFile}.tmp`)} ${q(input.pidFile)}`);
  const { uid, gid } = spec.process.user;
  lines.push(
    `exec env -i ${spec.process.env.map(q).join(' ')} unshare --root=${q(R)} --wd=${q(spec.process.cwd)} --setgid ${gid} --setuid ${uid} -- ${shellQuote(spec.process.args)}`,
  );
  const script = lines.join('\n');
  const inner = ['unshare', ...own, ...(own.includes('--pid') ? ['--fork', '--kill-child'] : []), '--propagation', 'private', '--', '/bin/sh', '-c', script, 'k8ts-init'];
  return joins.length ? ['nsenter', ...joins, '--', ...inner] : inner;
}

/** argv for an exec into the running container `pid` as `user` with `env`. */
export function nsenterExecArgv(pid: number, user: { uid: number; gid: number }, env: string[], cmd: string[]): string[] {
  return ['env', '-i', ...env, 'nsenter', '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '-G', String(user.gid), '-S', String(user.uid), '--', ...cmd];
}
