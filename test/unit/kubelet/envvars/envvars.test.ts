import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, Container, Pod, Secret, Service } from 'kubernetes-types/core/v1.js';
import {
  ContainerConfigError,
  containerResourceValue,
  expandCommandOnlyStatic,
  expandContainerCommandAndArgs,
  expandSubPathExpr,
  expandVariables,
  formatMap,
  isValidEnvVarName,
  makeEnvironmentVariables,
  podFieldValue,
  serviceEnvVarName,
  serviceEnvironment,
  type EnvironmentSources,
} from '../../../../src/kubelet/envvars.js';

describe('expandVariables (upstream expansion.Expand)', () => {
  const vars = new Map([
    ['VAR_A', 'A'],
    ['VAR_B', 'B'],
    ['VAR_C', 'C'],
    ['VAR_REF', '$(VAR_A)'],
    ['VAR_EMPTY', ''],
  ]);
  const table: Array<[string, string, string]> = [
    ['whole string', '$(VAR_A)', 'A'],
    ['repeat', '$(VAR_A)-$(VAR_A)', 'A-A'],
    ['beginning', '$(VAR_A)-1', 'A-1'],
    ['middle', '___$(VAR_B)___', '___B___'],
    ['end', '___$(VAR_C)', '___C'],
    ['compound', '$(VAR_A)_$(VAR_B)_$(VAR_C)', 'A_B_C'],
    ['escaped reference', '$$(VAR_B)_$(VAR_A)', '$(VAR_B)_A'],
    ['escaped operator twice', '$$$$(VAR_A)', '$$(VAR_A)'],
    ['value of a variable is not expanded again', '$(VAR_REF)', '$(VAR_A)'],
    ['empty value', 'x$(VAR_EMPTY)y', 'xy'],
    ['undefined reference stays', '$(VAR_DNE)', '$(VAR_DNE)'],
    ['unterminated reference stays', '$(VAR_A', '$(VAR_A'],
    ['lone operator at the end', 'abc$', 'abc$'],
    ['operator not followed by a paren', '$VAR_A', '$VAR_A'],
    ['operator before a multi-byte character', '$é$(VAR_A)', '$éA'],
    ['empty name', '$()', '$()'],
    ['nested parens close at the first', '$(VAR_A$(VAR_B))', '$(VAR_A$(VAR_B))'],
    ['no references', 'plain', 'plain'],
  ];
  for (const [name, input, want] of table) {
    it(name, () => assert.equal(expandVariables(input, vars), want));
  }

  it('looks up the contexts in order', () => {
    assert.equal(expandVariables('$(X)', { X: 'first' }, new Map([['X', 'second']])), 'first');
    assert.equal(expandVariables('$(Y)', { X: 'first' }, new Map([['Y', 'second']])), 'second');
  });
});

describe('command and args expansion', () => {
  it('expands command and args from the final environment', () => {
    const got = expandContainerCommandAndArgs({ command: ['/bin/$(APP)'], args: ['--port=$(PORT)', '$$(PORT)', '$(NOPE)'] }, [
      { key: 'APP', value: 'web' },
      { key: 'PORT', value: '8080' },
    ]);
    assert.deepEqual(got, { command: ['/bin/web'], args: ['--port=8080', '$(PORT)', '$(NOPE)'] });
  });

  it('expands subPathExpr and refuses undefined or empty variables', () => {
    const envs = [
      { key: 'POD_NAME', value: 'web-0' },
      { key: 'EMPTY', value: '' },
    ];
    assert.equal(expandSubPathExpr('logs/$(POD_NAME)', envs), 'logs/web-0');
    assert.throws(() => expandSubPathExpr('$(NOPE)/$(EMPTY)/$(POD_NAME)', envs), (e: unknown) => e instanceof ContainerConfigError && e.message === 'missing value for EMPTY, NOPE');
  });

  it('exec probes see only static env values (valueFrom variables are empty)', () => {
    const got = expandCommandOnlyStatic(['echo', '$(A)', '$(B)', '$(C)'], [
      { name: 'A', value: 'static' },
      { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    assert.deepEqual(got, ['echo', 'static', '', '$(C)']);
  });
});

function service(ns: string, name: string, clusterIP: string, ports: Array<{ port: number; name?: string; protocol?: string }>): Service {
  return { metadata: { namespace: ns, name }, spec: { clusterIP, ports: ports.map((p) => ({ ...p })) } } as Service;
}

describe('service environment variables', () => {
  it('names services as upstream makeEnvVariableName', () => {
    assert.equal(serviceEnvVarName('my-svc.x'), 'MY_SVC_X');
    assert.equal(serviceEnvVarName('1st'), '_1ST');
  });

  it('writes host, ports, named ports and docker links for default/kubernetes', () => {
    const env = serviceEnvironment([service('default', 'kubernetes', '10.43.0.1', [{ name: 'https', port: 443 }])], 'apps', true);
    assert.deepEqual(Object.fromEntries(env), {
      KUBERNETES_SERVICE_HOST: '10.43.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: 'tcp://10.43.0.1:443',
      KUBERNETES_PORT_443_TCP: 'tcp://10.43.0.1:443',
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_443_TCP_PORT: '443',
      KUBERNETES_PORT_443_TCP_ADDR: '10.43.0.1',
    });
  });

  const services = [
    service('default', 'kubernetes', '10.43.0.1', [{ name: 'https', port: 443 }]),
    service('apps', 'web-api', '10.43.0.20', [{ port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }]),
    service('apps', 'headless', 'None', [{ port: 80 }]),
    service('apps', 'pending', '', [{ port: 80 }]),
    service('other', 'elsewhere', '10.43.0.30', [{ port: 80 }]),
    service('apps', 'kubernetes', '10.43.0.99', [{ port: 1 }]),
  ];

  it('adds the same-namespace services with cluster IPs when enableServiceLinks', () => {
    const env = serviceEnvironment(services, 'apps', true);
    assert.equal(env.get('WEB_API_SERVICE_HOST'), '10.43.0.20');
    assert.equal(env.get('WEB_API_SERVICE_PORT'), '80');
    assert.equal(env.get('WEB_API_SERVICE_PORT_DNS'), '53');
    assert.equal(env.get('WEB_API_PORT_53_UDP'), 'udp://10.43.0.20:53');
    assert.equal(env.get('WEB_API_PORT_53_UDP_PROTO'), 'udp');
    assert.equal(env.has('HEADLESS_SERVICE_HOST'), false, 'headless services have no variables');
    assert.equal(env.has('PENDING_SERVICE_HOST'), false);
    assert.equal(env.has('ELSEWHERE_SERVICE_HOST'), false, 'other namespaces are not linked');
    assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.43.0.1', 'default/kubernetes wins over a same-named service');
  });

  it('keeps only default/kubernetes when enableServiceLinks is false', () => {
    const env = serviceEnvironment(services, 'apps', false);
    assert.deepEqual([...env.keys()].filter((k) => k.endsWith('_SERVICE_HOST')), ['KUBERNETES_SERVICE_HOST']);
  });
});

function pod(over: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'apps', uid: 'uid-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'say "hi"\n' }, ...meta },
    spec: { nodeName: 'node-a', serviceAccountName: 'builder', enableServiceLinks: true, containers: [{ name: 'c' }], ...over },
  };
}

describe('downward API fields', () => {
  const p = pod();
  const table: Array<[string, string, string]> = [
    ['metadata.name', 'metadata.name', 'web-0'],
    ['metadata.namespace', 'metadata.namespace', 'apps'],
    ['metadata.uid', 'metadata.uid', 'uid-1'],
    ['one label', "metadata.labels['app']", 'web'],
    ['a missing label is empty', "metadata.labels['nope']", ''],
    ['one annotation', "metadata.annotations['note']", 'say "hi"\n'],
    ['all labels, sorted, Go-quoted', 'metadata.labels', 'app="web"\ntier="front"'],
    ['all annotations are Go-quoted', 'metadata.annotations', 'note="say \\"hi\\"\\n"'],
    ['spec.nodeName', 'spec.nodeName', 'node-a'],
    ['spec.host is the old name of spec.nodeName', 'spec.host', 'node-a'],
    ['spec.serviceAccountName', 'spec.serviceAccountName', 'builder'],
    ['status.hostIP', 'status.hostIP', '192.168.1.5'],
    ['status.hostIPs', 'status.hostIPs', '192.168.1.5,fd00::5'],
    ['status.podIP is the primary family', 'status.podIP', '10.42.0.7'],
    ['status.podIPs', 'status.podIPs', '10.42.0.7,fd42::7'],
  ];
  for (const [name, fieldPath, want] of table) {
    it(name, () => assert.equal(podFieldValue({ fieldPath }, p, ['fd42::7', '10.42.0.7'], ['192.168.1.5', 'fd00::5']), want));
  }

  it('orders pod IPs by the node primary family', () => {
    assert.equal(podFieldValue({ fieldPath: 'status.podIPs' }, p, ['10.42.0.7', 'fd42::7'], ['fd00::5']), 'fd42::7,10.42.0.7');
  });

  const errors: Array<[string, string, string]> = [
    ['a field upstream does not know', 'spec.containers', 'field label not supported: spec.containers'],
    ['a subscript on a field without one', "spec.nodeName['x']", "field label does not support subscript: spec.nodeName['x']"],
    ['a known label with no env value', 'status.phase', 'unsupported fieldPath: status.phase'],
  ];
  for (const [name, fieldPath, msg] of errors) {
    it(`refuses ${name}`, () => assert.throws(() => podFieldValue({ fieldPath }, p, [], ['1.2.3.4']), (e: unknown) => e instanceof ContainerConfigError && e.message === msg));
  }

  it('fails status.hostIP without node addresses', () => {
    assert.throws(() => podFieldValue({ fieldPath: 'status.hostIP' }, p, [], []), (e: unknown) => e instanceof ContainerConfigError && e.code === 'HostIPUnknown');
  });

  it('formats maps as upstream FormatMap', () => assert.equal(formatMap({ b: 'tab\there', a: '\x01' }), 'a="\\x01"\nb="tab\\there"'));
});

describe('resource fields', () => {
  const c: Container = { name: 'c', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1500m', memory: '128Mi' } } };
  const p = pod({ containers: [c, { name: 'side', resources: { limits: { cpu: '2' } } }] });
  const alloc = { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' };
  const table: Array<[string, string, string | undefined, string]> = [
    ['cpu limit rounds up to whole cores', 'limits.cpu', undefined, '2'],
    ['cpu limit in millicores', 'limits.cpu', '1m', '1500'],
    ['cpu request rounds up', 'requests.cpu', undefined, '1'],
    ['memory limit in bytes', 'limits.memory', undefined, String(128 * 1024 * 1024)],
    ['memory limit in Mi', 'limits.memory', '1Mi', '128'],
    ['memory request in Mi', 'requests.memory', '1Mi', '64'],
    ['unset storage limit is node allocatable', 'limits.ephemeral-storage', '1Gi', '100'],
    ['zero divisor means 1', 'limits.cpu', '0', '2'],
    ['unset storage request is 0', 'requests.ephemeral-storage', undefined, '0'],
  ];
  for (const [name, resource, divisor, want] of table) {
    it(name, () => assert.equal(containerResourceValue({ resource, ...(divisor ? { divisor } : {}) }, p, c, alloc), want));
  }

  it('reads another container by containerName, with allocatable for its unset memory limit', () => {
    assert.equal(containerResourceValue({ resource: 'limits.memory', containerName: 'side', divisor: '1Gi' }, p, c, alloc), '8');
  });

  it('refuses an unknown resource with upstream message', () => {
    assert.throws(() => containerResourceValue({ resource: 'limits.gpu' }, p, c, alloc), /unsupported container resource : limits.gpu/);
  });
});

describe('env var names', () => {
  const table: Array<[string, 'relaxed' | 'strict', boolean]> = [
    ['GOOD_NAME', 'strict', true],
    ['dotted.name-x', 'strict', true],
    ['1LEADING_DIGIT', 'strict', false],
    ['..dots', 'strict', false],
    ['with space', 'strict', false],
    ['1LEADING_DIGIT', 'relaxed', true],
    ['with space', 'relaxed', true],
    ['a=b', 'relaxed', false],
    ['', 'relaxed', false],
    ['tab\t', 'relaxed', false],
  ];
  for (const [name, mode, want] of table) it(`${JSON.stringify(name)} is ${want ? 'valid' : 'invalid'} (${mode})`, () => assert.equal(isValidEnvVarName(name, mode), want));
});

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

function sources(over: Partial<EnvironmentSources> = {}): EnvironmentSources & { events: string[] } {
  const configMaps: Record<string, ConfigMap> = {
    settings: { metadata: { name: 'settings' }, data: { LEVEL: 'debug', MODE: 'fast', '1bad': 'x' } },
  };
  const secrets: Record<string, Secret> = {
    creds: { metadata: { name: 'creds' }, data: { USER: b64('admin'), PASS: b64('s3cr3t') } },
  };
  const events: string[] = [];
  return {
    getConfigMap: async (_ns, name) => configMaps[name],
    getSecret: (_ns, name) => secrets[name],
    services: [service('default', 'kubernetes', '10.43.0.1', [{ name: 'https', port: 443 }])],
    podIPs: ['10.42.0.7'],
    hostIPs: ['192.168.1.5'],
    nodeAllocatable: { cpu: '4', memory: '8Gi' },
    recorder: { event: (_pod, type, reason, message) => events.push(`${type} ${reason} ${message}`) },
    events,
    ...over,
  };
}

describe('makeEnvironmentVariables', () => {
  it('combines envFrom, env and services in upstream order with env overriding envFrom', async () => {
    const c: Container = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }, { secretRef: { name: 'creds' } }],
      env: [
        { name: 'CFG_LEVEL', value: 'info' },
        { name: 'GREETING', value: 'level=$(CFG_LEVEL) user=$(USER) api=$(KUBERNETES_SERVICE_HOST) later=$(LATER) $$(USER)' },
        { name: 'LATER', value: 'x' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Gi' } } },
        { name: 'ONE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'MODE' } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'PASS' } } },
        { name: 'KUBERNETES_SERVICE_PORT', value: 'overridden' },
      ],
    };
    const s = sources();
    const env = await makeEnvironmentVariables(pod({ containers: [c] }), c, s);
    const m = Object.fromEntries(env.map((e) => [e.key, e.value]));
    assert.equal(m.CFG_LEVEL, 'info');
    assert.equal(m.CFG_MODE, 'fast');
    assert.equal(m.CFG_1bad, 'x', 'relaxed names keep keys that start with a digit');
    assert.equal(m.USER, 'admin');
    assert.equal(m.GREETING, 'level=info user=admin api=10.43.0.1 later=$(LATER) $(USER)');
    assert.equal(m.POD, 'web-0');
    assert.equal(m.IP, '10.42.0.7');
    assert.equal(m.MEM, '8');
    assert.equal(m.ONE, 'fast');
    assert.equal(m.PW, 's3cr3t');
    assert.equal(m.KUBERNETES_SERVICE_PORT, 'overridden');
    assert.equal(env.filter((e) => e.key === 'KUBERNETES_SERVICE_PORT').length, 1, 'no duplicate of a service variable the container defines');
    assert.equal(m.KUBERNETES_SERVICE_HOST, '10.43.0.1');
    const keys = env.map((e) => e.key);
    assert.ok(keys.indexOf('CFG_LEVEL') < keys.indexOf('GREETING') && keys.indexOf('PW') < keys.indexOf('KUBERNETES_SERVICE_HOST'), 'own variables come before service ones');
    assert.deepEqual(s.events, []);
  });

  it('skips invalid envFrom keys with upstream event (strict names)', async () => {
    const c: Container = { name: 'c', envFrom: [{ configMapRef: { name: 'settings' } }] };
    const s = sources({ envVarNameValidation: 'strict' });
    const env = await makeEnvironmentVariables(pod({ containers: [c] }), c, s);
    assert.equal(env.some((e) => e.key === '1bad'), false);
    assert.ok(env.some((e) => e.key === 'LEVEL'));
    assert.deepEqual(s.events, [
      'Warning InvalidEnvironmentVariableNames Keys [1bad] from the EnvFrom configMap apps/settings were skipped since they are considered invalid environment variable names.',
    ]);
  });

  const failures: Array<[string, Container, string, string]> = [
    ['a missing configMap', { name: 'c', envFrom: [{ configMapRef: { name: 'gone' } }] }, 'ConfigMapNotFound', 'configmap "gone" not found'],
    ['a missing secret', { name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }] }, 'SecretNotFound', 'secret "gone" not found'],
    ['a missing configMap key', { name: 'c', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nokey' } } }] }, 'KeyNotFound', "couldn't find key nokey in ConfigMap apps/settings"],
    ['a missing secret key', { name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'nokey' } } }] }, 'KeyNotFound', "couldn't find key nokey in Secret apps/creds"],
  ];
  for (const [name, c, code, message] of failures) {
    it(`fails on ${name} with upstream message`, async () => {
      await assert.rejects(makeEnvironmentVariables(pod({ containers: [c] }), c, sources()), (e: unknown) => {
        assert.ok(e instanceof ContainerConfigError);
        assert.equal(e.code, code);
        assert.equal(e.message, message);
        assert.equal(e.reason, 'CreateContainerConfigError');
        return true;
      });
    });
  }

  it('skips optional sources and keys that are missing', async () => {
    const c: Container = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'gone', optional: true } }, { secretRef: { name: 'gone', optional: true } }],
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k', optional: true } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nokey', optional: true } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 'creds', key: 'nokey', optional: true } } },
        { name: 'D', value: 'kept' },
      ],
    };
    const env = await makeEnvironmentVariables(pod({ containers: [c] }), c, sources());
    assert.deepEqual(env.filter((e) => !e.key.startsWith('KUBERNETES_')), [{ key: 'D', value: 'kept' }]);
  });

  it('reports a failing lookup (not a NotFound) as LookupFailed', async () => {
    const c: Container = { name: 'c', envFrom: [{ configMapRef: { name: 'x', optional: true } }] };
    const s = sources({ getConfigMap: async () => Promise.reject(new Error('connection refused')) });
    await assert.rejects(makeEnvironmentVariables(pod({ containers: [c] }), c, s), (e: unknown) => e instanceof ContainerConfigError && e.code === 'LookupFailed' && /connection refused/.test(e.message));
  });

  it('refuses API pods before services were read, but lets static pods through', async () => {
    const c: Container = { name: 'c', env: [{ name: 'A', value: '1' }] };
    await assert.rejects(makeEnvironmentVariables(pod({ containers: [c] }), c, sources({ services: undefined })), (e: unknown) => isCode(e, 'ServicesNotSynced'));
    const staticPod = pod({ containers: [c] }, { annotations: { 'kubernetes.io/config.source': 'file' } });
    assert.deepEqual(await makeEnvironmentVariables(staticPod, c, sources({ services: undefined })), [{ key: 'A', value: '1' }]);
  });

  it('omits the same-namespace service links when enableServiceLinks is false', async () => {
    const c: Container = { name: 'c' };
    const s = sources({ services: [service('default', 'kubernetes', '10.43.0.1', [{ port: 443 }]), service('apps', 'db', '10.43.0.5', [{ port: 5432 }])] });
    const on = await makeEnvironmentVariables(pod({ containers: [c] }), c, s);
    const off = await makeEnvironmentVariables(pod({ containers: [c], enableServiceLinks: false }), c, s);
    assert.ok(on.some((e) => e.key === 'DB_SERVICE_HOST'));
    assert.equal(off.some((e) => e.key === 'DB_SERVICE_HOST'), false);
    assert.ok(off.some((e) => e.key === 'KUBERNETES_SERVICE_HOST'));
  });
});

function isCode(e: unknown, code: string): boolean {
  return e instanceof ContainerConfigError && e.code === code;
}
