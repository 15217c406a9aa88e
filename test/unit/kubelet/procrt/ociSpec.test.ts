import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildOciSpec,
  mergeEnv,
  parseGroup,
  parsePasswd,
  resolveProcessArgs,
  resolveUser,
  SpecError,
} from '../../../../src/kubelet/runtime/process/ociSpec.js';
import type { ContainerConfig } from '../../../../src/kubelet/runtime/types.js';

describe('resolveProcessArgs (containerd CRI rules)', () => {
  const image = { Entrypoint: ['/ep'], Cmd: ['cmd-arg'] };
  const cases: { name: string; command: string[]; args: string[]; img: { Entrypoint?: string[] | null; Cmd?: string[] | null }; want: string[] | 'error' }[] = [
    { name: 'neither command nor args: image Entrypoint + Cmd', command: [], args: [], img: image, want: ['/ep', 'cmd-arg'] },
    { name: 'args only: image Entrypoint + args (Cmd dropped)', command: [], args: ['a'], img: image, want: ['/ep', 'a'] },
    { name: 'command only: command, image Cmd dropped', command: ['/c'], args: [], img: image, want: ['/c'] },
    { name: 'command and args: both, image ignored', command: ['/c'], args: ['a', 'b'], img: image, want: ['/c', 'a', 'b'] },
    { name: 'image with Cmd only', command: [], args: [], img: { Cmd: ['/bin/sh'] }, want: ['/bin/sh'] },
    { name: 'nothing at all is an error', command: [], args: [], img: { Entrypoint: null, Cmd: null }, want: 'error' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.want === 'error') assert.throws(() => resolveProcessArgs(c.command, c.args, c.img), SpecError);
      else assert.deepEqual(resolveProcessArgs(c.command, c.args, c.img), c.want);
    });
  }
});

describe('mergeEnv', () => {
  it('later layers replace keys in place and add new ones at the end', () => {
    assert.deepEqual(mergeEnv([['PATH=/a', 'HOSTNAME=h'], ['PATH=/b', 'X=1'], ['X=2', 'Y=3']]), ['PATH=/b', 'HOSTNAME=h', 'X=2', 'Y=3']);
  });
});

describe('resolveUser', () => {
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n# comment\nbad line\n');
  const groups = parseGroup('root:x:0:\napp:x:1001:\nwheel:x:10:app,other\nstaff:x:50:\n');
  const cases: { name: string; sc: { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] }; user?: string; want: unknown }[] = [
    { name: 'default is root with its passwd gid', sc: {}, want: { uid: 0, gid: 0, additionalGids: [], home: '/root' } },
    { name: 'image user by name gets its gid and group memberships', sc: {}, user: 'app', want: { uid: 1000, gid: 1001, additionalGids: [10], home: '/home/app' } },
    { name: 'image user uid:gid numeric', sc: {}, user: '1000:50', want: { uid: 1000, gid: 50, additionalGids: [10], home: '/home/app' } },
    { name: 'image user name:group', sc: {}, user: 'app:staff', want: { uid: 1000, gid: 50, additionalGids: [10], home: '/home/app' } },
    { name: 'unknown numeric uid gets gid 0', sc: {}, user: '4242', want: { uid: 4242, gid: 0, additionalGids: [] } },
    { name: 'runAsUser wins over the image user', sc: { runAsUser: 1000 }, user: 'root', want: { uid: 1000, gid: 1001, additionalGids: [10], home: '/home/app' } },
    { name: 'runAsGroup and supplementalGroups apply', sc: { runAsUser: 5, runAsGroup: 6, supplementalGroups: [7] }, want: { uid: 5, gid: 6, additionalGids: [7] } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(resolveUser(c.sc, c.user, passwd, groups), c.want));
  it('an unknown user name is an error', () => assert.throws(() => resolveUser({}, 'nobody', passwd, groups), /unable to find user nobody/));
});

function config(over: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name: 'c', attempt: 0 },
    image: { image: 'x' },
    command: [],
    args: [],
    workingDir: '',
    envs: [{ key: 'A', value: '1' }],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: 'c/0.log',
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: { memoryLimitInBytes: 1 << 25, cpuQuota: 50000, cpuPeriod: 100000, cpuShares: 512, oomScoreAdj: -998 }, securityContext: {} },
    ...over,
  };
}

describe('buildOciSpec', () => {
  const base = {
    image: { Cmd: ['/bin/sh'], Env: ['PATH=/bin', 'I=img'], WorkingDir: '/w' },
    rootfs: '/r',
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'pod',
    cgroupsPath: '/kubepods/podX/cid',
    runtimeMounts: [
      { containerPath: '/etc/hosts', hostPath: '/sb/hosts', readonly: false },
      { containerPath: '/dev/shm', hostPath: '/sb/shm', readonly: false },
    ],
  };
  it('joins the pod namespaces by path, limits resources, never sets a negative oomScoreAdj', () => {
    const spec = buildOciSpec({ ...base, config: config(), namespaces: { network: '/run/netns/p', uts: '/sb/uts', ipc: '/sb/ipc', pid: 'new' } }) as any;
    assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }, { type: 'network', path: '/run/netns/p' }, { type: 'uts', path: '/sb/uts' }, { type: 'ipc', path: '/sb/ipc' }, { type: 'pid' }]);
    assert.deepEqual(spec.linux.resources.memory, { limit: 1 << 25, swap: 1 << 25 });
    assert.deepEqual(spec.linux.resources.cpu, { shares: 512, quota: 50000, period: 100000 });
    assert.equal(spec.process.oomScoreAdj, undefined);
    assert.equal(spec.hostname, undefined, 'hostname comes from the joined uts namespace');
    assert.equal(spec.process.cwd, '/w');
    assert.deepEqual(spec.process.env, ['PATH=/bin', 'HOSTNAME=pod', 'I=img', 'A=1']);
    assert.equal(spec.linux.cgroupsPath, '/kubepods/podX/cid');
  });
  it('host namespaces are left out; the user mount for /etc/hosts replaces the runtime one', () => {
    const spec = buildOciSpec({
      ...base,
      config: config({ mounts: [{ containerPath: '/etc/hosts', hostPath: '/kubelet/hosts', readonly: true }] }),
      namespaces: { network: 'host', uts: 'host', ipc: 'host', pid: 'host' },
    }) as any;
    assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }]);
    const hosts = spec.mounts.filter((m: any) => m.destination === '/etc/hosts');
    assert.deepEqual(hosts, [{ destination: '/etc/hosts', type: 'bind', source: '/kubelet/hosts', options: ['rbind', 'rprivate', 'ro'] }]);
    assert.ok(spec.mounts.some((m: any) => m.destination === '/dev/shm' && m.source === '/sb/shm'));
  });
  it('capabilities: add, drop and privileged', () => {
    const spec = buildOciSpec({
      ...base,
      config: config({ linux: { resources: {}, securityContext: { capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['KILL', 'CAP_NET_RAW'] } } } }),
      namespaces: {},
    }) as any;
    assert.ok(spec.process.capabilities.bounding.includes('CAP_NET_ADMIN'));
    assert.ok(!spec.process.capabilities.bounding.includes('CAP_KILL'));
    assert.ok(!spec.process.capabilities.bounding.includes('CAP_NET_RAW'));
    assert.ok(spec.linux.maskedPaths.includes('/proc/kcore'));
    const priv = buildOciSpec({ ...base, config: config({ linux: { resources: {}, securityContext: { privileged: true } } }), namespaces: {} }) as any;
    assert.ok(priv.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
    assert.equal(priv.linux.maskedPaths, undefined);
    assert.deepEqual(priv.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  });
});
