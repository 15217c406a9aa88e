// A container's CRI mounts from its volumeMounts (upstream kubelet_pods.go makeMounts): the volume's
// host path, or a subPath / subPathExpr below it (created when missing, never escaping the volume,
// symlinks resolved so a later swap cannot redirect the bind mount), readOnly, mountPropagation.
import { promises as fs } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Container, Pod, VolumeMount } from 'kubernetes-types/core/v1.js';
import type { Mount } from '../runtime/types.js';
import type { PodVolumes } from './types.js';
import { expandWith } from '../envvars.js';

/** A volumeMount cannot be satisfied; the kubelet reports CreateContainerConfigError with this message. */
export class ContainerMountError extends Error {
  override readonly name = 'ContainerMountError';
}

export interface ContainerMountsExtra {
  /** The container's resolved environment, for subPathExpr (`$(POD_NAME)`). */
  env?: Readonly<Record<string, string>>;
  /** Mounts the kubelet adds (`/etc/hosts`, `/dev/termination-log`); skipped where a volumeMount already targets the path. */
  mounts?: readonly Mount[];
}

/** The CRI mounts of `container`, in volumeMounts order, then the extra mounts. */
export async function containerMounts(_pod: Readonly<Pod>, container: Readonly<Container>, podVolumes: PodVolumes, extra: ContainerMountsExtra = {}): Promise<Mount[]> {
  const mounts: Mount[] = [];
  const privileged = container.securityContext?.privileged === true;
  for (const vm of container.volumeMounts ?? []) {
    const vol = podVolumes.get(vm.name);
    if (!vol) throw new ContainerMountError(`cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    let hostPath = vol.hostPath;
    const subPath = vm.subPathExpr ? expandSubPathExpr(vm.subPathExpr, extra.env ?? {}) : (vm.subPath ?? '');
    if (subPath !== '') {
      if (subPath.startsWith('/')) throw new ContainerMountError(`error SubPath \`${subPath}\` must not be an absolute path`);
      if (subPath.split(/[/\\]/).includes('..')) throw new ContainerMountError(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
      hostPath = await prepareSubPath(vol.hostPath, subPath, vm, container.name);
    }
    mounts.push({
      containerPath: vm.mountPath,
      hostPath,
      readonly: vm.readOnly === true || vol.readOnly,
      propagation: propagationOf(vm, container.name, privileged),
    });
  }
  const targets = new Set(mounts.map((m) => m.containerPath));
  for (const m of extra.mounts ?? []) if (!targets.has(m.containerPath)) mounts.push(m);
  return mounts;
}

function propagationOf(vm: Readonly<VolumeMount>, containerName: string, privileged: boolean): Mount['propagation'] {
  switch (vm.mountPropagation) {
    case undefined:
    case 'None':
      return 'PROPAGATION_PRIVATE';
    case 'HostToContainer':
      return 'PROPAGATION_HOST_TO_CONTAINER';
    case 'Bidirectional':
      if (!privileged) throw new ContainerMountError('Bidirectional mount propagation is available only to privileged containers');
      return 'PROPAGATION_BIDIRECTIONAL';
    default:
      throw new ContainerMountError(`invalid MountPropagation mode: ${String(vm.mountPropagation)} (container "${containerName}")`);
  }
}

/**
 * `$(VAR)` expansion of a subPathExpr (upstream's expansion.Expand, `$$` escapes); a variable that
 * is missing or empty is an error, as upstream's ExpandContainerVolumeMounts.
 */
export function expandSubPathExpr(expr: string, env: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const out = expandVars(expr, (name) => {
    const v = env[name];
    if (v === undefined || v === '') missing.add(name);
    return v ?? '';
  });
  if (missing.size) throw new ContainerMountError(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** upstream's expansion.Expand with a mapping function (shared with env and command expansion). */
export const expandVars = expandWith;

/** True when `path` is `base` or below it (both already resolved). */
export function pathWithinBase(path: string, base: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !rel.startsWith('/'));
}

/**
 * Creates the subPath below the volume if missing (directories with the volume's mode, each step
 * checked to stay inside the volume) and returns its resolved path.
 */
async function prepareSubPath(volumePath: string, subPath: string, vm: Readonly<VolumeMount>, containerName: string): Promise<string> {
  const base = await fs.realpath(volumePath);
  const target = join(volumePath, subPath);
  const exists = await fs.lstat(target).then(
    () => true,
    () => false,
  );
  if (!exists) {
    try {
      const mode = (await fs.stat(base)).mode & 0o7777;
      let current = base;
      for (const part of subPath.split('/').filter((p) => p && p !== '.')) {
        const next = join(current, part);
        const st = await fs.lstat(next).catch(() => undefined);
        if (!st) {
          await fs.mkdir(next, { mode });
          await fs.chmod(next, mode);
        }
        current = await fs.realpath(next);
        if (!pathWithinBase(current, base)) throw new Error(`path ${current} is outside of allowed base ${base}`);
      }
    } catch {
      throw new ContainerMountError(`failed to create subPath directory for volumeMount "${vm.name}" of container "${containerName}"`);
    }
  }
  const resolved = await fs.realpath(target).catch(() => undefined);
  if (!resolved || !pathWithinBase(resolved, base)) throw new ContainerMountError(`failed to prepare subPath for volumeMount "${vm.name}" of container "${containerName}"`);
  return resolved;
}
