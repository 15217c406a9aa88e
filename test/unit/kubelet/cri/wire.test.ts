// Tables for the pure parts of the CRI backend: wire mapping, error codes, stream status documents,
// the node conflist, containerd's config, ctr output, archive naming and crictl formatting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { nodeConflist } from '../../../../src/kubelet/runtime/cri/cniConflist.js';
import { ago, formatTable, humanDuration, humanSize, imagesTable, parseCriLogLine, splitRepoTag, truncateId } from '../../../../src/kubelet/runtime/cri/crictlFormat.js';
import { grpcStatusFromError, runtimeErrorFromGrpc } from '../../../../src/kubelet/runtime/cri/errors.js';
import { archiveImageNames, parseCtrImportOutput } from '../../../../src/kubelet/runtime/cri/importImage.js';
import { containerdConfigToml, containerdPaths } from '../../../../src/kubelet/runtime/cri/managedContainerd.js';
import { writeBusyboxOciArchive } from '../../../../src/kubelet/runtime/cri/ociArchive.js';
import { criProtoPath, PROTO_LOADER_OPTIONS } from '../../../../src/kubelet/runtime/cri/proto.js';
import { normaliseEndpoint } from '../../../../src/kubelet/runtime/cri/runtime.js';
import { exitFromV4Status, portForwardUrl } from '../../../../src/kubelet/runtime/cri/streamClient.js';
import { v4StatusForExit } from '../../../../src/kubelet/runtime/cri/streamServer.js';
import * as wire from '../../../../src/kubelet/runtime/cri/wire.js';
import { resolveRuntimeEndpoint } from '../../../../src/cli/crictlCommand.js';
import { RuntimeError, type ContainerConfig, type PodSandboxConfig } from '../../../../src/kubelet/runtime/types.js';
import { tempDir } from '../../../support/tmp.js';

/** Encodes with the real schema and decodes as the gRPC layer does: what the other side sees. */
function throughWire(type: string, message: unknown): unknown {
  const root = protobuf.loadSync(criProtoPath());
  const T = root.lookupType(`runtime.v1.${type}`);
  const bytes = T.encode(T.fromObject(message as Record<string, unknown>)).finish();
  // The same conversion options proto-loader passes to protobufjs for the gRPC layer.
  const { keepCase: _k, ...conversion } = PROTO_LOADER_OPTIONS;
  return T.toObject(T.decode(bytes), conversion as protobuf.IConversionOptions);
}

const sandbox: PodSandboxConfig = {
  metadata: { name: 'web-0', uid: '5f0c', namespace: 'prod', attempt: 3 },
  hostname: '',
  logDirectory: '/var/log/pods/prod_web-0_5f0c',
  portMappings: [{ protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' }],
  labels: { app: 'web' },
  annotations: {},
  linux: { cgroupParent: '/kubepods/pod5f0c', securityContext: { namespaceOptions: { network: 'NODE', pid: 'POD', ipc: 'NODE' }, runAsGroup: 0, supplementalGroups: [5, 6] } },
};

const container: ContainerConfig = {
  metadata: { name: 'app', attempt: 0 },
  image: { image: 'docker.io/library/busybox:1.36', annotations: { a: 'b' } },
  command: [],
  args: ['--port', '80'],
  workingDir: '',
  envs: [{ key: 'EMPTY', value: '' }],
  mounts: [{ containerPath: '/etc/hosts', hostPath: '/var/lib/kubelet/pods/5f0c/etc-hosts', readonly: false }],
  devices: [{ containerPath: '/dev/fuse', hostPath: '/dev/fuse', permissions: 'rwm' }],
  labels: {},
  annotations: { 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
  logPath: 'app/0.log',
  stdin: true,
  stdinOnce: true,
  tty: true,
  linux: { resources: { memoryLimitInBytes: 2 ** 40, cpuShares: 2 }, securityContext: { privileged: true, namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
};

describe('CRI wire mapping', () => {
  const cases: { name: string; type: string; toWire: (v: never) => unknown; fromWire: (w: unknown) => unknown; value: unknown }[] = [
    { name: 'a host-network sandbox config with UDP port mapping and groups survives the trip', type: 'PodSandboxConfig', toWire: wire.sandboxConfigToWire as never, fromWire: wire.sandboxConfigFromWire, value: sandbox },
    { name: 'a tty container config with a 1 TiB limit, devices and privileged survives the trip', type: 'ContainerConfig', toWire: wire.containerConfigToWire as never, fromWire: wire.containerConfigFromWire, value: container },
    {
      name: 'a container status with nanosecond timestamps beyond 2^53 survives the trip',
      type: 'ContainerStatus',
      toWire: wire.containerStatusToWire as never,
      fromWire: wire.containerStatusFromWire,
      value: {
        id: 'c1', metadata: { name: 'app', attempt: 1 }, state: 'CONTAINER_EXITED', createdAt: 1_795_000_000_123_456_789n, startedAt: 1_795_000_001_000_000_001n,
        finishedAt: 1_795_000_002_999_999_999n, exitCode: 137, image: { image: 'busybox' }, imageRef: 'sha256:ab', reason: 'OOMKilled', message: '',
        labels: {}, annotations: {}, mounts: [], logPath: '/var/log/pods/x/app/1.log',
      },
    },
    {
      name: 'an image with uid 0 keeps the uid (a wrapper, not a zero default)',
      type: 'Image',
      toWire: wire.imageToWire as never,
      fromWire: wire.imageFromWire,
      value: { id: 'sha256:ab', repoTags: ['localhost/a:1'], repoDigests: [], size: 12_345_678_901n, uid: 0, username: '', pinned: true },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(c.fromWire(throughWire(c.type, c.toWire(c.value as never))), c.value);
    });
  }

  it('leaves unset resources out instead of reporting zeros', () => {
    assert.deepEqual(wire.resourcesFromWire(throughWire('LinuxContainerResources', wire.resourcesToWire({}))), {});
  });

  it('sends filters with wrapped states and reads them back', () => {
    assert.deepEqual(wire.containerFilterFromWire(throughWire('ContainerFilter', wire.containerFilterToWire({ state: 'CONTAINER_EXITED', podSandboxId: 'p' }))), {
      state: 'CONTAINER_EXITED',
      podSandboxId: 'p',
    });
    assert.deepEqual(wire.sandboxFilterFromWire(throughWire('PodSandboxFilter', wire.sandboxFilterToWire({ labelSelector: { a: 'b' } }))), { labelSelector: { a: 'b' } });
  });
});

describe('CRI error codes', () => {
  const grpcError = (code: GrpcStatus, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: undefined as never });
  const table: [string, string, ReturnType<typeof grpcError>, string][] = [
    ['a NotFound status is NotFound for any call', 'ContainerStatus', grpcError(GrpcStatus.NOT_FOUND, 'an error occurred when try to find container "x": not found'), 'NotFound'],
    ['a pull that cannot resolve the reference is ImageNotFound', 'PullImage', grpcError(GrpcStatus.UNKNOWN, 'failed to pull and unpack image "localhost/x:1": failed to resolve reference "localhost/x:1": localhost/x:1: not found'), 'ImageNotFound'],
    ['any other failed pull is ImagePullFailed', 'PullImage', grpcError(GrpcStatus.UNKNOWN, 'failed to pull and unpack image: unexpected EOF'), 'ImagePullFailed'],
    ['an unreachable registry is RegistryUnavailable', 'PullImage', grpcError(GrpcStatus.UNAVAILABLE, 'registry returned 503'), 'RegistryUnavailable'],
    ['an UNKNOWN from CreateContainer is CreateContainerFailed', 'CreateContainer', grpcError(GrpcStatus.UNKNOWN, 'failed to create containerd container'), 'CreateContainerFailed'],
    ['an UNKNOWN from StartContainer is StartContainerFailed', 'StartContainer', grpcError(GrpcStatus.UNKNOWN, 'exec: "nope": executable file not found in $PATH'), 'StartContainerFailed'],
    ['a CNI failure in RunPodSandbox is NetworkSetupFailed', 'RunPodSandbox', grpcError(GrpcStatus.UNKNOWN, 'failed to setup network for sandbox: plugin type="bridge" failed (add)'), 'NetworkSetupFailed'],
    ['a closed socket is Unavailable', 'Version', grpcError(GrpcStatus.UNAVAILABLE, 'No connection established'), 'Unavailable'],
    ['anything else is Internal', 'StopPodSandbox', grpcError(GrpcStatus.UNKNOWN, 'boom'), 'Internal'],
  ];
  for (const [name, call, err, code] of table) {
    it(name, () => {
      const got = runtimeErrorFromGrpc(call, err);
      assert.equal(got.code, code);
      assert.equal(got.message, err.details);
    });
  }
  it('serves RuntimeError codes as gRPC statuses that map back to the same code', () => {
    for (const code of ['NotFound', 'AlreadyExists', 'InvalidArgument', 'DeadlineExceeded', 'Unavailable', 'Unimplemented'] as const) {
      const s = grpcStatusFromError(new RuntimeError(code, 'm'));
      assert.equal(runtimeErrorFromGrpc('ContainerStatus', grpcError(s.code, s.details)).code, code);
    }
    assert.equal(grpcStatusFromError(new Error('bug')).code, GrpcStatus.INTERNAL);
  });
});

describe('streaming status documents', () => {
  const table: [string, string, { exitCode?: number; message?: string }][] = [
    ['Success is exit 0', '{"metadata":{},"status":"Success"}', { exitCode: 0 }],
    ['NonZeroExitCode carries the code in its ExitCode cause', v4StatusForExit(42), { exitCode: 42, message: 'command terminated with non-zero exit code: exit status 42' }],
    ['another failure is a message without a code', '{"metadata":{},"status":"Failure","message":"container not running","reason":"InternalError"}', { message: 'container not running' }],
    ['no status at all (the socket just closed) counts as success', '', { exitCode: 0 }],
    ['a v1 plain-text error is its message', 'error executing command in container: not found', { message: 'error executing command in container: not found' }],
  ];
  for (const [name, text, want] of table) it(name, () => assert.deepEqual(exitFromV4Status(text), want));
  it('adds the port to a port-forward URL', () => {
    assert.equal(portForwardUrl('http://127.0.0.1:4000/portforward/abc', 8080), 'http://127.0.0.1:4000/portforward/abc?port=8080');
  });
});

describe('node CNI conflist', () => {
  it('chains bridge (gateway, hairpin, no per-pod masquerade) with host-local over the podCIDR, then portmap', () => {
    const doc = nodeConflist({ podCIDR: '10.42.3.0/24', bridge: 'k8ts0', ipamDataDir: '/d/cni/networks' }) as { cniVersion: string; plugins: Record<string, unknown>[] };
    assert.equal(doc.cniVersion, '1.0.0');
    assert.deepEqual(doc.plugins.map((p) => p.type), ['bridge', 'portmap']);
    assert.deepEqual(doc.plugins[0], {
      type: 'bridge', bridge: 'k8ts0', isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.3.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/d/cni/networks' },
    });
    assert.deepEqual(doc.plugins[1], { type: 'portmap', capabilities: { portMappings: true }, snat: true });
  });
  it('routes ::/0 for an IPv6 podCIDR', () => {
    const doc = nodeConflist({ podCIDR: 'fd00:10:244:1::/64' }) as { plugins: { ipam?: { routes: unknown } }[] };
    assert.deepEqual(doc.plugins[0]?.ipam?.routes, [{ dst: '::/0' }]);
  });
  it('refuses a bridge name Linux cannot hold and a podCIDR that is not one', () => {
    assert.throws(() => nodeConflist({ podCIDR: '10.0.0.0/24', bridge: 'a-very-long-bridge' }), /longer than 15/);
    assert.throws(() => nodeConflist({ podCIDR: '10.0.0.0' }), /not a CIDR/);
  });
});

describe('managed containerd config', () => {
  const p = containerdPaths('/var/lib/k8ts');
  const toml = containerdConfigToml(p, { cniBinDir: '/usr/lib/cni', pauseImage: 'localhost/k8ts/pause:3.10', runtimes: { runc: '/usr/sbin/runc', crun: '/usr/bin/crun' } });
  const want: [string, RegExp][] = [
    ['keeps root, state and socket under the data dir', /^root = "\/var\/lib\/k8ts\/agent\/containerd\/root"$[\s\S]*^\s+address = "\/var\/lib\/k8ts\/agent\/containerd\/containerd.sock"$/m],
    ['restricts oom_score_adj (no CAP_SYS_RESOURCE here)', /^\s+restrict_oom_score_adj = true$/m],
    ['uses the offline pause image', /^\s+sandbox_image = "localhost\/k8ts\/pause:3.10"$/m],
    ['takes CNI plugins from /usr/lib/cni and config from the node', /bin_dir = "\/usr\/lib\/cni"\n\s+conf_dir = "\/var\/lib\/k8ts\/agent\/cni\/net.d"/],
    ['uses cgroupfs, not systemd', /SystemdCgroup = false/],
    ['declares a crun runtime handler with its binary', /runtimes\.crun\]\n\s+runtime_type = "io.containerd.runc.v2"\n[^\n]+\n\s+BinaryName = "\/usr\/bin\/crun"/],
    ['keeps runc state apart from other containerds', /Root = "\/var\/lib\/k8ts\/agent\/containerd\/state\/runc\/runc"/],
  ];
  for (const [name, re] of want) it(name, () => assert.match(toml, re));
});

describe('image import naming', () => {
  it('reads the names ctr reports', () => {
    const out = 'unpacking localhost/lab/busybox:latest (sha256:06a0b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d)...done\nunpacking docker.io/library/x:1 (sha256:aa)...done\n';
    assert.deepEqual(parseCtrImportOutput(out), ['localhost/lab/busybox:latest', 'docker.io/library/x:1']);
  });
  it('tells an OCI layout that names images by tag only from a docker archive with RepoTags', async () => {
    const tmp = tempDir('k8ts-cri-names-');
    try {
      const oci = join(tmp.path, 'oci.tar');
      await writeBusyboxOciArchive(oci, { tag: 'v1', applets: ['sh'] });
      assert.deepEqual(await archiveImageNames(oci), { kind: 'oci-layout', references: [], tags: ['v1'] });
      const junk = join(tmp.path, 'junk.tar');
      writeFileSync(junk, 'this is not a tar archive at all'.repeat(40));
      await assert.rejects(archiveImageNames(junk), (e: RuntimeError) => e.code === 'InvalidArgument');
    } finally {
      tmp.remove();
    }
  });
});

describe('crictl formatting', () => {
  const durations: [number, string][] = [
    [500, 'Less than a second'], [1_000, '1 second'], [59_000, '59 seconds'], [61_000, 'About a minute'], [5 * 60_000, '5 minutes'],
    [61 * 60_000, 'About an hour'], [5 * 3_600_000, '5 hours'], [3 * 86_400_000, '3 days'], [21 * 86_400_000, '3 weeks'],
  ];
  for (const [ms, want] of durations) it(`says ${want} for ${ms} ms`, () => assert.equal(humanDuration(ms), want));
  const sizes: [number, string][] = [[999, '999B'], [1_234, '1.23kB'], [750_000, '750kB'], [1_500_000, '1.5MB'], [4_260_000_000, '4.26GB']];
  for (const [n, want] of sizes) it(`prints ${n} bytes as ${want}`, () => assert.equal(humanSize(n), want));
  it('truncates ids to 13 characters after sha256:', () => assert.equal(truncateId('sha256:0123456789abcdef0123', 'sha256:'), '0123456789abc'));
  it('splits a registry port from the tag', () => {
    assert.deepEqual(splitRepoTag('localhost:5000/app:1.2'), ['localhost:5000/app', '1.2']);
    assert.deepEqual(splitRepoTag('localhost:5000/app'), ['localhost:5000/app', '<none>']);
  });
  it('pads columns like tabwriter (min 20, 3 spaces)', () => {
    assert.equal(formatTable([['A', 'B'], ['a-much-longer-value-here', 'x']]), 'A                          B\na-much-longer-value-here   x\n');
  });
  it('lists one row per tag in images', () => {
    const out = imagesTable([{ id: 'sha256:' + 'f'.repeat(64), repoTags: ['localhost/a:1', 'localhost/a:latest'], repoDigests: [], size: 1_400_000n, username: '', pinned: false }]);
    assert.deepEqual(out.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)), [['localhost/a', '1', 'fffffffffffff', '1.4MB'], ['localhost/a', 'latest', 'fffffffffffff', '1.4MB']]);
  });
  it('parses CRI log lines, partial and full', () => {
    assert.deepEqual(parseCriLogLine('2026-11-25T19:36:34.123456789Z stderr P part'), { timestamp: '2026-11-25T19:36:34.123456789Z', stream: 'stderr', partial: true, content: 'part' });
    assert.deepEqual(parseCriLogLine('2026-11-25T19:36:34.1Z stdout F '), { timestamp: '2026-11-25T19:36:34.1Z', stream: 'stdout', partial: false, content: '' });
    assert.equal(parseCriLogLine('garbage'), undefined);
  });
  it('says how long ago a nanosecond timestamp was', () => assert.equal(ago(1_000_000_000_000n * 1_000_000n, 1_000_000_000_000 + 120_000), '2 minutes ago'));
});

describe('runtime endpoints', () => {
  it('takes a bare socket path as unix:// and refuses tcp', () => {
    assert.equal(normaliseEndpoint('/run/containerd/containerd.sock'), 'unix:///run/containerd/containerd.sock');
    assert.equal(normaliseEndpoint('unix:///x.sock'), 'unix:///x.sock');
    assert.throws(() => normaliseEndpoint('tcp://1.2.3.4:1'), (e: RuntimeError) => e.code === 'InvalidArgument');
  });
  it('prefers the flag, then the endpoint the kubelet recorded, then the managed containerd', () => {
    const tmp = tempDir('k8ts-cri-ep-');
    try {
      assert.equal(resolveRuntimeEndpoint({ dataDir: tmp.path }), `unix://${tmp.path}/agent/containerd/containerd.sock`);
      mkdirSync(join(tmp.path, 'agent'), { recursive: true });
      writeFileSync(join(tmp.path, 'agent', 'runtime-endpoint'), 'unix:///run/k8ts/cri.sock\n');
      assert.equal(resolveRuntimeEndpoint({ dataDir: tmp.path }), 'unix:///run/k8ts/cri.sock');
      assert.equal(resolveRuntimeEndpoint({ dataDir: tmp.path, runtimeEndpoint: 'unix:///a.sock' }), 'unix:///a.sock');
    } finally {
      tmp.remove();
    }
  });
});
