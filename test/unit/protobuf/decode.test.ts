import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKubernetesProtobuf, decodeProtobufMessage } from '../../../src/api/protobuf/decode.js';
import { encodeMessage, encodeObject, envelope, Writer } from './protobufEncoder.js';

type Obj = Record<string, unknown>;

function namespace(): Obj {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name: 'team-a', labels: { env: 'dev' }, creationTimestamp: null },
    spec: { finalizers: ['kubernetes'] },
    status: {},
  };
}

function configMap(): Obj {
  return {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: { name: 'settings', namespace: 'default', creationTimestamp: null },
    immutable: false, // a *bool: present on the wire, so kept even when false
    data: { 'app.properties': 'a=1\nb=2', empty: '' },
    binaryData: { blob: Buffer.from([0, 1, 2, 250]).toString('base64') },
  };
}

function secret(): Obj {
  return {
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: { name: 'creds', namespace: 'default', creationTimestamp: null },
    data: { password: Buffer.from('s3cr3t').toString('base64'), binary: Buffer.from([255, 0, 128]).toString('base64') },
    type: 'Opaque',
  };
}

function deployment(): Obj {
  return {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: '6f1c0d4e-0000-4000-8000-000000000001',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2024-01-02T03:04:05Z',
      labels: { app: 'web' },
      annotations: { 'deployment.kubernetes.io/revision': '2' },
      ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Shop', name: 'main', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
      finalizers: ['example.com/keep'],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] },
      template: {
        metadata: { labels: { app: 'web' }, creationTimestamp: null },
        spec: {
          volumes: [{ name: 'conf', configMap: { name: 'web-conf', defaultMode: 420 } }],
          initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'], resources: {} }],
          containers: [
            {
              name: 'app',
              image: 'nginx:1.27',
              ports: [
                { name: 'http', containerPort: 8080, protocol: 'TCP' },
                { containerPort: 9090, protocol: 'UDP', hostPort: 19090 },
              ],
              env: [
                { name: 'MODE', value: 'prod' },
                { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token', optional: false } } },
              ],
              resources: {
                limits: { cpu: '500m', memory: '256Mi' },
                requests: { cpu: '250m', memory: '128Mi', 'ephemeral-storage': '1Gi' },
              },
              volumeMounts: [{ name: 'conf', mountPath: '/etc/web', readOnly: true }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 5, periodSeconds: 10 },
              readinessProbe: { tcpSocket: { port: 8080 }, failureThreshold: 3 },
              terminationMessagePath: '/dev/termination-log',
              imagePullPolicy: 'IfNotPresent',
              securityContext: { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          automountServiceAccountToken: false,
          securityContext: { supplementalGroups: [1, 2, 300], fsGroup: 2000 },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule', tolerationSeconds: 60 }],
          priority: -10,
        },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 3,
      replicas: 3,
      conditions: [
        { type: 'Available', status: 'True', lastUpdateTime: '2024-01-02T03:05:00Z', lastTransitionTime: '2024-01-02T03:05:00Z', reason: 'MinimumReplicasAvailable', message: 'ok' },
      ],
    },
  };
}

function tokenRequest(): Obj {
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: {
      audiences: ['https://kubernetes.default.svc'],
      expirationSeconds: 3600,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web-0', uid: 'p-1' },
    },
    status: { token: '', expirationTimestamp: null },
  };
}

function selfSubjectReview(): Obj {
  return {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    status: {
      userInfo: {
        username: 'alice',
        uid: 'a-1',
        groups: ['dev', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': ['X509SHA256=abc'], scopes: ['a', 'b'] },
      },
    },
  };
}

function eviction(): Obj {
  return {
    kind: 'Eviction',
    apiVersion: 'policy/v1',
    metadata: { name: 'web-0', namespace: 'shop', creationTimestamp: null },
    deleteOptions: { gracePeriodSeconds: 30, preconditions: { uid: 'p-1', resourceVersion: '9' }, propagationPolicy: 'Background', dryRun: ['All'] },
  };
}

function customResourceDefinition(): Obj {
  return {
    kind: 'CustomResourceDefinition',
    apiVersion: 'apiextensions.k8s.io/v1',
    metadata: { name: 'widgets.example.com', creationTimestamp: null },
    spec: {
      group: 'example.com',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                spec: {
                  type: 'object',
                  'x-kubernetes-preserve-unknown-fields': true,
                  properties: {
                    size: { type: 'integer', minimum: 1, maximum: 10.5, default: 3 },
                    mode: { type: 'string', enum: ['fast', 'slow'], default: 'fast' },
                    port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
                    tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                    pair: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }] },
                    labels: { type: 'object', additionalProperties: { type: 'string' } },
                    closed: { type: 'object', additionalProperties: false },
                    link: { $ref: '#/definitions/x' },
                  },
                  dependencies: { mode: ['size'], port: { required: ['mode'] } },
                  'x-kubernetes-validations': [{ rule: 'self.size <= 10', message: 'too big' }],
                },
              },
            },
          },
          subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.size' } },
        },
      ],
      conversion: { strategy: 'None' },
    },
    status: { conditions: [], acceptedNames: { plural: '', kind: '' }, storedVersions: ['v1'] },
  };
}

test('objects kubectl sends decode back to their JSON form', () => {
  const cases: [string, Obj][] = [
    ['a Namespace with labels and a null creationTimestamp', namespace()],
    ['a ConfigMap with string and binary data', configMap()],
    ['a Secret whose bytes data comes back as base64', secret()],
    ['a Deployment with a pod template, ports, quantities, probes and an IntOrString maxSurge', deployment()],
    ['a TokenRequest bound to a pod', tokenRequest()],
    ['a SelfSubjectReview with extra user info', selfSubjectReview()],
    ['a policy/v1 Eviction with delete options', eviction()],
    ['a CustomResourceDefinition with a structural schema', customResourceDefinition()],
  ];
  for (const [name, obj] of cases) {
    const got = decodeKubernetesProtobuf(encodeObject(obj));
    assert.equal(got.apiVersion, obj['apiVersion'], name);
    assert.equal(got.kind, obj['kind'], name);
    assert.deepEqual(got.object, { ...stripEmptyCrdStatus(obj) }, name);
  }
});

/** CustomResourceDefinitionStatus.conditions is a nil-able slice: an empty list is absent on the wire. */
function stripEmptyCrdStatus(obj: Obj): Obj {
  if (obj['kind'] !== 'CustomResourceDefinition') return obj;
  const status = { ...(obj['status'] as Obj) };
  delete status['conditions'];
  return { ...obj, status };
}

test('kind and apiVersion come first, then fields in Go struct order', () => {
  const got = decodeKubernetesProtobuf(encodeObject(deployment())).object;
  assert.deepEqual(Object.keys(got), ['kind', 'apiVersion', 'metadata', 'spec', 'status']);
  const container = ((got['spec'] as Obj)['template'] as { spec: { containers: Obj[] } }).spec.containers[0]!;
  assert.deepEqual(Object.keys(container).slice(0, 4), ['name', 'image', 'ports', 'env']);
});

test('Go omitempty rules: zero scalars on the wire are dropped only where Go drops them', () => {
  // kubectl's typed client writes every non-pointer scalar, zero or not.
  const meta = new Writer().string(1, 'n').string(2, '').string(3, '').int(7, 0).bytes(8, new Uint8Array(0));
  const port = new Writer().string(1, '').int(2, 0).int(3, 0).string(4, 'TCP');
  const container = new Writer().string(1, '').string(2, '').bytes(6, port).bool(16, false);
  const podSpec = new Writer().bytes(2, container).bool(21, false).bool(11, false);
  const pod = new Writer().bytes(1, meta).bytes(2, podSpec);
  const got = decodeKubernetesProtobuf(envelope('v1', 'Pod', pod.finish())).object;
  assert.deepEqual(got, {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'n', creationTimestamp: null },
    spec: {
      // Container.name has no omitempty; containerPort neither; automountServiceAccountToken is a *bool.
      containers: [{ name: '', ports: [{ containerPort: 0, protocol: 'TCP' }] }],
      automountServiceAccountToken: false,
    },
  });
});

test('apimachinery types are written the way their Go MarshalJSON writes them', () => {
  const time = (seconds: number | bigint, nanos?: number) => {
    const w = new Writer().int(1, seconds);
    return nanos === undefined ? w : w.int(2, nanos);
  };
  const cases: [string, string, Uint8Array, unknown][] = [
    ['an empty Time is the zero time, null', 'meta.v1.Time', new Uint8Array(0), null],
    ['Time at the epoch is a date, not null', 'meta.v1.Time', time(0).finish(), '1970-01-01T00:00:00Z'],
    ['Time drops nanoseconds', 'meta.v1.Time', time(1704164645, 999_999_999).finish(), '2024-01-02T03:04:05Z'],
    ['Time before the epoch', 'meta.v1.Time', time(-1).finish(), '1969-12-31T23:59:59Z'],
    ['MicroTime keeps six digits, truncated', 'meta.v1.MicroTime', time(1704164645, 123_456_789).finish(), '2024-01-02T03:04:05.123456Z'],
    ['MicroTime with whole seconds still has six digits', 'meta.v1.MicroTime', time(1704164645).finish(), '2024-01-02T03:04:05.000000Z'],
    ['an empty MicroTime is null', 'meta.v1.MicroTime', new Uint8Array(0), null],
    ['Duration is a Go duration string', 'meta.v1.Duration', new Writer().int(1, 90_000_000_000).finish(), '1m30s'],
    ['an empty Duration is 0s', 'meta.v1.Duration', new Uint8Array(0), '0s'],
    ['IntOrString holding an int', 'intstr.IntOrString', new Writer().int(1, 0).int(2, 8080).finish(), 8080],
    ['IntOrString holding a negative int', 'intstr.IntOrString', new Writer().int(1, 0).int(2, -1).finish(), -1],
    ['IntOrString holding a string', 'intstr.IntOrString', new Writer().int(1, 1).string(3, '25%').finish(), '25%'],
    ['an empty IntOrString is the int 0', 'intstr.IntOrString', new Uint8Array(0), 0],
    ['Quantity is its string', 'resource.Quantity', new Writer().string(1, '1.5Gi').finish(), '1.5Gi'],
    ['an empty Quantity is "0"', 'resource.Quantity', new Uint8Array(0), '0'],
    ['RawExtension holds JSON', 'runtime.RawExtension', new Writer().string(1, '{"a":[1,true,null]}').finish(), { a: [1, true, null] }],
    ['an empty RawExtension is null', 'runtime.RawExtension', new Uint8Array(0), null],
    ['FieldsV1 is its JSON', 'meta.v1.FieldsV1', new Writer().string(1, '{"f:metadata":{"f:labels":{".":{}}}}').finish(), { 'f:metadata': { 'f:labels': { '.': {} } } }],
    ['an ExtraValue is an array', 'authentication.v1.ExtraValue', new Writer().string(1, 'a').string(1, 'b').finish(), ['a', 'b']],
    ['an empty ExtraValue is a nil slice, null', 'authentication.v1.ExtraValue', new Uint8Array(0), null],
    ['meta/v1 Verbs is an array', 'meta.v1.Verbs', new Writer().string(1, 'get').finish(), ['get']],
    ['JSONSchemaPropsOrBool false', 'apiextensions.v1.JSONSchemaPropsOrBool', new Writer().bool(1, false).finish(), false],
    ['JSONSchemaPropsOrBool with a schema is the schema', 'apiextensions.v1.JSONSchemaPropsOrBool', new Writer().bool(1, true).bytes(2, new Writer().string(5, 'string')).finish(), { type: 'string' }],
    ['an empty JSONSchemaPropsOrStringArray is null', 'apiextensions.v1.JSONSchemaPropsOrStringArray', new Uint8Array(0), null],
    ['apiextensions JSON holding a string', 'apiextensions.v1.JSON', new Writer().string(1, '"x"').finish(), 'x'],
  ];
  for (const [name, type, bytes, want] of cases) {
    assert.deepEqual(decodeProtobufMessage(type, bytes), want, name);
  }
});

test('scalars read as upstream reads them', () => {
  const cases: [string, Uint8Array, Obj][] = [
    ['a negative int32 arrives as a 10-byte varint', new Writer().int(2, -5).finish(), { value: -5 }],
    ['an int32 keeps only its low 32 bits', new Writer().int(2, 2n ** 32n + 7n).finish(), { value: 7 }],
    ['a bool is any non-zero varint', new Writer().int(3, 2).finish(), { globalDefault: true }],
    ['a false bool with omitempty is left out', new Writer().int(3, 0).finish(), {}],
    ['a later value of a singular field wins', new Writer().string(4, 'first').string(4, 'second').finish(), { description: 'second' }],
  ];
  for (const [name, bytes, want] of cases) {
    assert.deepEqual(decodeProtobufMessage('scheduling.v1.PriorityClass', bytes), want, name);
  }
  const big = new Writer().int(7, 2n ** 40n).int(10, -30).finish();
  assert.deepEqual(decodeProtobufMessage('meta.v1.ObjectMeta', big), { generation: 2 ** 40, deletionGracePeriodSeconds: -30 }, 'int64 values are numbers');
});

test('repeated numbers are read both packed and unpacked', () => {
  const packed = new Writer().varint(1).varint(2).varint(300).finish();
  const podSecurityContext = (w: Writer) => decodeProtobufMessage('core.v1.PodSecurityContext', w.finish());
  assert.deepEqual(podSecurityContext(new Writer().bytes(4, packed)), { supplementalGroups: [1, 2, 300] });
  assert.deepEqual(podSecurityContext(new Writer().int(4, 1).int(4, 2).int(4, 300)), { supplementalGroups: [1, 2, 300] });
  const schema = new Writer().double(9, 10.5).double(11, -1);
  assert.deepEqual(decodeProtobufMessage('apiextensions.v1.JSONSchemaProps', schema.finish()), { maximum: 10.5, minimum: -1 });
});

test('fields the schema does not know are skipped, whatever their wire type', () => {
  const spec = new Writer().string(1, 'kubernetes').int(90, 1).double(91, 2).bytes(92, new Uint8Array([1, 2])).tag(93, 5).raw(1, 2, 3, 4);
  const ns = new Writer().bytes(1, new Writer().string(1, 'x')).bytes(2, spec).string(77, 'future field');
  const got = decodeKubernetesProtobuf(envelope('v1', 'Namespace', ns.finish())).object;
  assert.deepEqual(got, { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' }, spec: { finalizers: ['kubernetes'] } });
});

test('a singular message sent twice merges, as protobuf defines', () => {
  const first = new Writer().string(1, 'a').bytes(11, new Writer().string(1, 'x').string(2, '1')).string(14, 'f1');
  const second = new Writer().string(3, 'ns').bytes(11, new Writer().string(1, 'y').string(2, '2')).string(14, 'f2');
  const cm = new Writer().bytes(1, first).bytes(1, second);
  const got = decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', cm.finish())).object;
  assert.deepEqual(got['metadata'], { name: 'a', namespace: 'ns', labels: { x: '1', y: '2' }, finalizers: ['f1', 'f2'] });
});

test('map entries: a later key wins, a missing value is the zero value, __proto__ is an ordinary key', () => {
  const entry = (k: string | undefined, v: string | undefined) => {
    const w = new Writer();
    if (k !== undefined) w.string(1, k);
    if (v !== undefined) w.string(2, v);
    return w;
  };
  const cm = new Writer().bytes(2, entry('a', '1')).bytes(2, entry('a', '2')).bytes(2, entry('b', undefined)).bytes(2, entry(undefined, 'v')).bytes(2, entry('__proto__', 'p'));
  const data = decodeProtobufMessage('core.v1.ConfigMap', cm.finish()) as { data: Record<string, string> };
  assert.equal(Object.getPrototypeOf(data.data), Object.prototype);
  assert.deepEqual(Object.entries(data.data), [['a', '2'], ['b', ''], ['', 'v'], ['__proto__', 'p']]);
  const quota = new Writer().bytes(1, new Writer().string(1, 'pods'));
  assert.deepEqual(decodeProtobufMessage('core.v1.ResourceQuotaSpec', quota.finish()), { hard: { pods: '0' } }, 'a missing Quantity value is "0"');
});

test('inline Go structs (VolumeSource, ProbeHandler, LocalObjectReference, EphemeralContainerCommon) write their fields into the parent', () => {
  const pod: Obj = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'p', creationTimestamp: null },
    spec: {
      volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }, { name: 's', secret: { secretName: 'creds', optional: true } }],
      containers: [{ name: 'c', image: 'x', resources: {}, startupProbe: { exec: { command: ['true'] } }, envFrom: [{ configMapRef: { name: 'env' } }] }],
      ephemeralContainers: [{ name: 'debug', image: 'busybox', resources: {}, targetContainerName: 'c' }],
      imagePullSecrets: [{ name: 'regcred' }],
    },
    status: { phase: 'Pending', startTime: '2024-05-06T07:08:09Z' },
  };
  assert.deepEqual(decodeKubernetesProtobuf(encodeObject(pod)).object, pod);
});

test('embedded objects: RawExtension with JSON, and with a nested Kubernetes protobuf object', () => {
  const revision = (data: unknown) =>
    decodeKubernetesProtobuf(encodeObject({ kind: 'ControllerRevision', apiVersion: 'apps/v1', metadata: { name: 'r', creationTimestamp: null }, data, revision: 2 })).object;
  assert.deepEqual(revision({ spec: { template: { x: 1 } } })['data'], { spec: { template: { x: 1 } } });
  const nested = encodeObject(configMap());
  assert.deepEqual(revision(new Uint8Array(nested))['data'], configMap());
});

test('managedFields decode with their FieldsV1 JSON and timestamps', () => {
  const cm: Obj = {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: {
      name: 'm',
      creationTimestamp: '2024-01-02T03:04:05Z',
      managedFields: [
        { manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '2024-01-02T03:04:05Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:a': {} } } },
      ],
    },
    data: { a: 'b' },
  };
  assert.deepEqual(decodeKubernetesProtobuf(encodeObject(cm)).object, cm);
});

test('renamed JSON fields come from the Go json tags, not the proto names', () => {
  const ingressClass: Obj = {
    kind: 'IngressClass',
    apiVersion: 'networking.k8s.io/v1',
    metadata: { name: 'nginx', creationTimestamp: null },
    spec: { controller: 'k8s.io/ingress-nginx', parameters: { apiGroup: 'k8s.example.com', kind: 'Params', name: 'p', scope: 'Cluster' } },
  };
  assert.deepEqual(decodeKubernetesProtobuf(encodeObject(ingressClass)).object, ingressClass);
  const webhook: Obj = {
    kind: 'ValidatingWebhookConfiguration',
    apiVersion: 'admissionregistration.k8s.io/v1',
    metadata: { name: 'v', creationTimestamp: null },
    webhooks: [
      {
        name: 'v.example.com',
        clientConfig: { service: { namespace: 'ns', name: 'svc', path: '/v', port: 443 } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  };
  assert.deepEqual(decodeKubernetesProtobuf(encodeObject(webhook)).object, webhook);
});

test('meta/v1 option kinds decode under any known group version', () => {
  const opts: Obj = { kind: 'DeleteOptions', apiVersion: 'apps/v1', gracePeriodSeconds: 0, propagationPolicy: 'Foreground' };
  assert.deepEqual(decodeKubernetesProtobuf(encodeObject(opts)).object, opts);
});

test('a 3 MiB ConfigMap decodes', () => {
  const data: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) data[`key-${i}`] = 'x'.repeat(3000);
  const cm = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'big', creationTimestamp: null }, data };
  const body = encodeObject(cm);
  assert.ok(body.length > 3_000_000);
  const started = performance.now();
  assert.deepEqual(decodeKubernetesProtobuf(body).object, cm);
  assert.ok(performance.now() - started < 2000, 'decodes in well under two seconds');
  assert.equal(encodeMessage('core.v1.ConfigMap', {}).length, 0);
});
