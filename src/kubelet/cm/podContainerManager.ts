// The kubelet's pod-level cgroups (upstream pkg/kubelet/cm/pod_container_manager_linux.go), for
// what the CRI cannot say per container: the pod's process limit (--pod-max-pids, pids.max). The
// kubelet makes /kubepods[/<qos>]/pod<uid> before the sandbox; every runtime (runc through the
// process runtime or containerd) puts the pod's containers beneath it, so the limit covers them all.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { cgroupVersion, type CgroupVersion } from '../runtime/process/cgroups.js';
import { podCgroupParent } from '../kuberuntime.js';

/** Upstream's event reason when the pod cgroup cannot be made (events.FailedToCreatePodContainer). */
export const FAILED_TO_CREATE_POD_CONTAINER = 'FailedCreatePodContainer';

export class PodCgroupError extends Error {
  override readonly name = 'PodCgroupError';
}

export interface PodContainerManagerOptions {
  /** --pod-max-pids / podPidsLimit: processes (tasks) a pod may have; -1 or 0 = no pod-level limit. */
  podPidsLimit?: number;
  /** The cgroup filesystem; tests point it at a scratch directory. */
  cgroupRoot?: string;
  version?: CgroupVersion;
}

export class PodContainerManager {
  readonly podPidsLimit: number;
  private readonly root: string;
  private readonly version: CgroupVersion;

  constructor(o: PodContainerManagerOptions = {}) {
    this.podPidsLimit = o.podPidsLimit ?? -1;
    this.root = o.cgroupRoot ?? '/sys/fs/cgroup';
    this.version = o.version ?? cgroupVersion();
  }

  /** Whether the kubelet manages pod cgroups at all (only for a limit: otherwise the runtime's own mkdir suffices). */
  get enabled(): boolean {
    return this.podPidsLimit > 0;
  }

  /** The pod cgroup's directory in the pids hierarchy (v1) or the unified tree (v2). */
  pidsDir(pod: Readonly<Pod>): string {
    const rel = podCgroupParent(pod);
    return this.version === 2 ? join(this.root, rel) : join(this.root, 'pids', rel);
  }

  /**
   * EnsureExists: creates the pod cgroup and writes pids.max. Idempotent and cheap (one mkdir, one
   * write); throws PodCgroupError when the pids controller is missing or the write is refused.
   */
  ensureExists(pod: Readonly<Pod>): void {
    if (!this.enabled) return;
    const dir = this.pidsDir(pod);
    try {
      if (this.version === 2) this.enablePidsControllerV2(podCgroupParent(pod));
      else if (!existsSync(join(this.root, 'pids'))) throw new PodCgroupError(`the pids cgroup controller is not mounted at ${join(this.root, 'pids')}: --pod-max-pids needs it`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'pids.max'), String(this.podPidsLimit));
    } catch (err) {
      if (err instanceof PodCgroupError) throw err;
      throw new PodCgroupError(`unable to set pids.max=${this.podPidsLimit} on ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** v2: a child gets pids.max only when every ancestor delegates the pids controller. */
  private enablePidsControllerV2(rel: string): void {
    const controllers = readFileSync(join(this.root, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!controllers.includes('pids')) throw new PodCgroupError(`the pids controller is not available in ${this.root} (cgroup.controllers: ${controllers.join(' ').trim() || 'none'})`);
    const parts = rel.split('/').filter(Boolean);
    let dir = this.root;
    for (const part of parts) {
      const ctl = join(dir, 'cgroup.subtree_control');
      if (!readFileSync(ctl, 'utf8').split(/\s+/).includes('pids')) writeFileSync(ctl, '+pids');
      dir = join(dir, part);
      mkdirSync(dir, { recursive: true });
    }
  }

  /** Tasks in the pod cgroup now (pids.current), or undefined when it has none (no containers yet, or gone). */
  pidsCurrent(pod: Readonly<Pod>): number | undefined {
    try {
      return Number(readFileSync(join(this.pidsDir(pod), 'pids.current'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /**
   * Destroy: removes the pod cgroup from every hierarchy once its containers are gone (empty child
   * dirs first), as upstream's pod container manager does; containerd leaves these behind. A busy
   * cgroup refuses rmdir and is left alone.
   */
  destroy(pod: Readonly<Pod>): void {
    const rel = podCgroupParent(pod);
    let bases = [this.root];
    if (this.version === 1) {
      try {
        bases = readdirSync(this.root, { withFileTypes: true })
          .filter((e) => e.isDirectory() && e.name !== 'unified')
          .map((e) => join(this.root, e.name));
      } catch {
        return;
      }
    }
    for (const base of bases) removeEmptyTree(join(base, rel));
  }
}

function removeEmptyTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeEmptyTree(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    /* busy or gone */
  }
}
