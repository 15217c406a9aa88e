import assert from 'node:assert/strict';
import { existsSync, mkdirSync, realpathSync, symlinkSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Container, Pod, VolumeMount } from 'kubernetes-types/core/v1.js';
import { containerMounts, expandVars } from '../../../../src/kubelet/volumes/containerMounts.js';
import type { PodVolumes } from '../../../../src/kubelet/volumes/types.js';
import { tempDir } from '../../../support/tmp.js';

const t = tempDir();
const data = join(t.path, 'data');
const config = join(t.path, 'config');
mkdirSync(join(data, 'existing'), { recursive: true });
chmodSync(data, 0o750);
mkdirSync(config);
symlinkSync('/etc', join(data, 'escape'));
const volumes: PodVolumes = new Map([
  ['data', { hostPath: data, readOnly: false, plugin: 'kubernetes.io/empty-dir' }],
  ['config', { hostPath: config, readOnly: true, plugin: 'kubernetes.io/configmap' }],
]);
const pod: Pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [] } };
const container = (volumeMounts: VolumeMount[], privileged = false): Container => ({ name: 'app', image: 'x', volumeMounts, securityContext: { privileged } });

describe('containerMounts (upstream makeMounts)', () => {
  after(() => t.remove());

  it('maps volumeMounts to CRI mounts; API-data volumes are always read-only', async () => {
    const got = await containerMounts(pod, container([{ name: 'data', mountPath: '/data' }, { name: 'config', mountPath: '/etc/app' }, { name: 'data', mountPath: '/ro', readOnly: true, mountPropagation: 'HostToContainer' }]), volumes);
    assert.deepEqual(got, [
      { containerPath: '/data', hostPath: data, readonly: false, propagation: 'PROPAGATION_PRIVATE' },
      { containerPath: '/etc/app', hostPath: config, readonly: true, propagation: 'PROPAGATION_PRIVATE' },
      { containerPath: '/ro', hostPath: data, readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
    ]);
  });

  it('creates a missing subPath with the volume directory\'s mode', async () => {
    const [m] = await containerMounts(pod, container([{ name: 'data', mountPath: '/logs', subPath: 'logs/app' }]), volumes);
    assert.equal(m!.hostPath, join(realpathSync(data), 'logs/app'));
    assert.equal(statSync(join(data, 'logs/app')).mode & 0o777, 0o750);
  });

  it('expands subPathExpr from the container environment', async () => {
    const [m] = await containerMounts(pod, container([{ name: 'data', mountPath: '/x', subPathExpr: 'pods/$(POD_NAME)' }]), volumes, { env: { POD_NAME: 'web-1' } });
    assert.equal(m!.hostPath, join(realpathSync(data), 'pods/web-1'));
  });

  const failures: Array<[string, VolumeMount, string, boolean?]> = [
    ['a mount of an unknown volume', { name: 'ghost', mountPath: '/g' }, 'cannot find volume "ghost" to mount into container "app"'],
    ['an absolute subPath', { name: 'data', mountPath: '/x', subPath: '/etc' }, 'error SubPath `/etc` must not be an absolute path'],
    ['a subPath with ..', { name: 'data', mountPath: '/x', subPath: 'existing/../../etc' }, "unable to provision SubPath `existing/../../etc`: must not contain '..'"],
    ['a subPath through a symlink leaving the volume', { name: 'data', mountPath: '/x', subPath: 'escape' }, 'failed to prepare subPath for volumeMount "data" of container "app"'],
    ['a new subPath below a symlink leaving the volume', { name: 'data', mountPath: '/x', subPath: 'escape/k8ts-should-not-exist' }, 'failed to create subPath directory for volumeMount "data" of container "app"'],
    ['a subPathExpr with an undefined variable', { name: 'data', mountPath: '/x', subPathExpr: '$(NOPE)/$(ALSO)' }, 'missing value for ALSO, NOPE'],
    ['Bidirectional propagation in an unprivileged container', { name: 'data', mountPath: '/x', mountPropagation: 'Bidirectional' }, 'Bidirectional mount propagation is available only to privileged containers'],
  ];
  for (const [name, vm, message] of failures) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(containerMounts(pod, container([vm]), volumes), { name: 'ContainerMountError', message });
    });
  }
  it('never created anything outside the volume', () => assert.equal(existsSync('/etc/k8ts-should-not-exist'), false));

  it('allows Bidirectional for privileged containers and appends extra mounts not shadowed by volumeMounts', async () => {
    const got = await containerMounts(pod, container([{ name: 'data', mountPath: '/etc/hosts', mountPropagation: 'Bidirectional' }], true), volumes, {
      mounts: [
        { containerPath: '/etc/hosts', hostPath: '/tmp/hosts', readonly: false },
        { containerPath: '/dev/termination-log', hostPath: '/tmp/tl', readonly: false },
      ],
    });
    assert.deepEqual(got.map((m) => [m.containerPath, m.propagation ?? '']), [['/etc/hosts', 'PROPAGATION_BIDIRECTIONAL'], ['/dev/termination-log', '']]);
  });
});

describe('$(VAR) expansion (upstream expansion.Expand)', () => {
  const env: Record<string, string> = { A: 'x', B: 'y' };
  const map = (n: string) => env[n] ?? `$(${n})`;
  const cases: Array<[string, string, string]> = [
    ['a variable is replaced', '$(A)/z', 'x/z'],
    ['two variables', '$(A)$(B)', 'xy'],
    ['$$ escapes a dollar', '$$(A)', '$(A)'],
    ['an unterminated reference stays literal', '$(A', '$(A'],
    ['a dollar before another character stays', '$A', '$A'],
    ['a trailing dollar stays', 'a$', 'a$'],
    ['an undefined variable stays as written', '$(C)', '$(C)'],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(expandVars(input, map), want));
});
