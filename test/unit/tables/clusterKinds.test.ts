// Printers of the smaller kinds: one table of (object, expected cells) per kind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

type Case = [name: string, obj: object, want: TableCell[]];

function table(group: string, kind: string, cases: Case[]): void {
  describe(`${group || 'core'} ${kind} printer`, () => {
    for (const [name, obj, want] of cases) {
      it(name, () => assert.deepEqual(onlyRow(toTable({ group, kind }, [obj], { now: NOW }).rows).cells, want));
    }
  });
}

const meta = (name: string, extra: object = {}) => ({ metadata: { name, creationTimestamp: ago(4, 'd'), ...extra } });

table('', 'ConfigMap', [
  ['DATA counts data and binaryData keys', { ...meta('cfg'), data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }, ['cfg', 3, '4d']],
  ['an empty configmap has 0', meta('cfg'), ['cfg', 0, '4d']],
]);

table('', 'Secret', [['TYPE and DATA', { ...meta('tls'), type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } }, ['tls', 'kubernetes.io/tls', 2, '4d']]]);

table('', 'ServiceAccount', [
  ['SECRETS counts listed secrets', { ...meta('default'), secrets: [{ name: 'default-token' }] }, ['default', 1, '4d']],
  ['none is 0', meta('default'), ['default', 0, '4d']],
]);

table('', 'Namespace', [
  ['STATUS is the phase', { ...meta('kube-system'), status: { phase: 'Active' } }, ['kube-system', 'Active', '4d']],
  ['a terminating namespace', { ...meta('old'), status: { phase: 'Terminating' } }, ['old', 'Terminating', '4d']],
]);

table('', 'ComponentStatus', [
  ['healthy', { metadata: { name: 'etcd-0' }, conditions: [{ type: 'Healthy', status: 'True', message: 'ok' }] }, ['etcd-0', 'Healthy', 'ok', '']],
  [
    'unhealthy with an error',
    { metadata: { name: 'scheduler' }, conditions: [{ type: 'Healthy', status: 'False', error: 'connection refused' }] },
    ['scheduler', 'Unhealthy', '', 'connection refused'],
  ],
  ['no Healthy condition is Unknown', { metadata: { name: 'x' } }, ['x', 'Unknown', '', '']],
]);

table('', 'PodTemplate', [
  [
    'containers, images and pod labels',
    { ...meta('tpl'), template: { metadata: { labels: { b: '2', a: '1' } }, spec: { containers: [{ name: 'c1', image: 'i1' }, { name: 'c2', image: 'i2' }] } } },
    ['tpl', 'c1,c2', 'i1,i2', 'a=1,b=2'],
  ],
  ['no labels is <none>', { ...meta('tpl'), template: { spec: { containers: [] } } }, ['tpl', '', '', '<none>']],
]);

table('', 'ReplicationController', [
  [
    'DESIRED CURRENT READY and the wide selector map',
    { ...meta('rc'), spec: { replicas: 2, selector: { app: 'web' }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } }, status: { replicas: 2, readyReplicas: 1 } },
    ['rc', 2, 2, 1, '4d', 'c', 'i', 'app=web'],
  ],
]);

table('', 'ResourceQuota', [
  [
    'requests and limits split, sorted by resource, quantities canonical',
    {
      ...meta('compute'),
      status: {
        hard: { 'limits.memory': '2Gi', 'requests.cpu': '1', pods: '10', 'limits.cpu': '2000m', 'requests.memory': '1024Mi' },
        used: { 'requests.cpu': '500m', pods: '3', 'limits.memory': '1.5Gi' },
      },
    },
    ['compute', 'pods: 3/10, requests.cpu: 500m/1, requests.memory: 0/1Gi', 'limits.cpu: 0/2, limits.memory: 1536Mi/2Gi', '4d'],
  ],
]);

table('', 'PersistentVolume', [
  [
    'a bound volume',
    {
      ...meta('pv-1'),
      spec: {
        capacity: { storage: '10Gi' },
        accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        claimRef: { namespace: 'default', name: 'data' },
        storageClassName: 'standard',
        volumeMode: 'Filesystem',
      },
      status: { phase: 'Bound' },
    },
    ['pv-1', '10Gi', 'RWO,RWX', 'Retain', 'Bound', 'default/data', 'standard', '<unset>', '', '4d', 'Filesystem'],
  ],
  [
    'a volume being deleted is Terminating; the beta class annotation wins',
    {
      ...meta('pv-2', { deletionTimestamp: ago(1), annotations: { 'volume.beta.kubernetes.io/storage-class': 'legacy' } }),
      spec: { capacity: { storage: '1000Mi' }, accessModes: ['ReadWriteOncePod'], persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'standard' },
      status: { phase: 'Released', reason: 'gone' },
    },
    ['pv-2', '1000Mi', 'RWOP', 'Delete', 'Terminating', '', 'legacy', '<unset>', 'gone', '4d', '<unset>'],
  ],
]);

table('', 'PersistentVolumeClaim', [
  [
    'a bound claim shows the volume’s capacity and modes',
    {
      ...meta('data'),
      spec: { volumeName: 'pv-1', storageClassName: 'standard', resources: { requests: { storage: '5Gi' } }, volumeMode: 'Filesystem' },
      status: { phase: 'Bound', capacity: { storage: '10Gi' }, accessModes: ['ReadWriteOnce'] },
    },
    ['data', 'Bound', 'pv-1', '10Gi', 'RWO', 'standard', '<unset>', '4d', 'Filesystem'],
  ],
  [
    'a pending claim leaves capacity and modes empty',
    { ...meta('data'), spec: { storageClassName: 'standard', resources: { requests: { storage: '5Gi' } } }, status: { phase: 'Pending' } },
    ['data', 'Pending', '', '', '', 'standard', '<unset>', '4d', '<unset>'],
  ],
]);

table('storage.k8s.io', 'StorageClass', [
  [
    'the default class is marked; unset policies show their defaults',
    { ...meta('standard', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }), provisioner: 'rancher.io/local-path' },
    ['standard (default)', 'rancher.io/local-path', 'Delete', 'Immediate', false, '4d'],
  ],
  [
    'explicit policies',
    { ...meta('fast'), provisioner: 'csi.example.com', reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true },
    ['fast', 'csi.example.com', 'Retain', 'WaitForFirstConsumer', true, '4d'],
  ],
]);

table('storage.k8s.io', 'CSIDriver', [
  ['defaults: attach required, no pod info, no capacity, tokens <unset>, modes <none>', { ...meta('csi.example.com'), spec: {} }, ['csi.example.com', true, false, false, '<unset>', false, '<none>', '4d']],
  [
    'everything set',
    {
      ...meta('csi.example.com'),
      spec: {
        attachRequired: false,
        podInfoOnMount: true,
        storageCapacity: true,
        tokenRequests: [{ audience: 'vault' }, { audience: 'gcp' }],
        requiresRepublish: true,
        volumeLifecycleModes: ['Persistent', 'Ephemeral'],
      },
    },
    ['csi.example.com', false, true, true, 'vault,gcp', true, 'Persistent,Ephemeral', '4d'],
  ],
]);

table('storage.k8s.io', 'CSINode', [['DRIVERS counts drivers', { ...meta('node-a'), spec: { drivers: [{ name: 'a', nodeID: 'n' }] } }, ['node-a', 1, '4d']]]);

table('storage.k8s.io', 'VolumeAttachment', [
  [
    'attacher, PV, node, attached',
    { ...meta('csi-123'), spec: { attacher: 'csi.example.com', source: { persistentVolumeName: 'pv-1' }, nodeName: 'node-a' }, status: { attached: true } },
    ['csi-123', 'csi.example.com', 'pv-1', 'node-a', true, '4d'],
  ],
]);

table('apps', 'ControllerRevision', [
  [
    'the controller as kind.group/name',
    { ...meta('web-5d8f', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }] }), revision: 3 },
    ['web-5d8f', 'statefulset.apps/web', 3, '4d'],
  ],
  ['no controller is <none>', { ...meta('orphan'), revision: 1 }, ['orphan', '<none>', 1, '4d']],
]);

table('policy', 'PodDisruptionBudget', [
  ['min available as a number, max unavailable unset', { ...meta('web'), spec: { minAvailable: 2 }, status: { disruptionsAllowed: 1 } }, ['web', '2', 'N/A', 1, '4d']],
  ['max unavailable as a percentage', { ...meta('web'), spec: { maxUnavailable: '25%' }, status: {} }, ['web', 'N/A', '25%', 0, '4d']],
]);

table('rbac.authorization.k8s.io', 'RoleBinding', [
  [
    'ROLE as kind/name; wide users, groups, service accounts',
    {
      ...meta('view'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [
        { kind: 'User', name: 'alice' },
        { kind: 'Group', name: 'devs' },
        { kind: 'ServiceAccount', namespace: 'ci', name: 'runner' },
        { kind: 'User', name: 'bob' },
      ],
    },
    ['view', 'ClusterRole/view', '4d', 'alice, bob', 'devs', 'ci/runner'],
  ],
]);

table('rbac.authorization.k8s.io', 'ClusterRoleBinding', [
  ['no subjects', { ...meta('admin'), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' } }, ['admin', 'ClusterRole/cluster-admin', '4d', '', '', '']],
]);

table('networking.k8s.io', 'Ingress', [
  [
    'class, hosts, address and TLS ports',
    {
      ...meta('web'),
      spec: { ingressClassName: 'nginx', rules: [{ host: 'a.example.com' }, { host: 'b.example.com' }], tls: [{ hosts: ['a.example.com'] }] },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
    },
    ['web', 'nginx', 'a.example.com,b.example.com', '203.0.113.7', '80, 443', '4d'],
  ],
  ['no class, no host: <none> and *', { ...meta('web'), spec: { defaultBackend: { service: { name: 'x' } } } }, ['web', '<none>', '*', '', '80', '4d']],
  [
    'more than three hosts',
    { ...meta('web'), spec: { rules: ['a', 'b', 'c', 'd', 'e'].map((h) => ({ host: `${h}.example.com` })) } },
    ['web', '<none>', 'a.example.com,b.example.com,c.example.com + 2 more...', '', '80', '4d'],
  ],
]);

table('networking.k8s.io', 'IngressClass', [
  [
    'parameters as kind.group/name',
    { ...meta('nginx'), spec: { controller: 'k8s.io/ingress-nginx', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'external-lb' } } },
    ['nginx', 'k8s.io/ingress-nginx', 'IngressParameters.k8s.example.com/external-lb', '4d'],
  ],
  ['no parameters', { ...meta('nginx'), spec: { controller: 'k8s.io/ingress-nginx' } }, ['nginx', 'k8s.io/ingress-nginx', '<none>', '4d']],
]);

table('networking.k8s.io', 'NetworkPolicy', [
  ['an empty pod selector selects all: <none>', { ...meta('deny-all'), spec: { podSelector: {} } }, ['deny-all', '<none>', '4d']],
  ['a pod selector', { ...meta('allow-web'), spec: { podSelector: { matchLabels: { app: 'web' } } } }, ['allow-web', 'app=web', '4d']],
]);

table('discovery.k8s.io', 'EndpointSlice', [
  [
    'ports and endpoints, three at most',
    {
      ...meta('web-abc12'),
      addressType: 'IPv4',
      ports: [{ port: 80 }, { name: 'metrics' }, {}],
      endpoints: [{ addresses: ['10.1.0.1', '10.1.0.2'] }, { addresses: ['10.1.0.3'] }, { addresses: ['10.1.0.4'] }],
    },
    ['web-abc12', 'IPv4', '80,metrics,*', '10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...', '4d'],
  ],
  ['nothing yet is <unset>', { ...meta('web-abc12'), addressType: 'IPv4', endpoints: [] }, ['web-abc12', 'IPv4', '<unset>', '<unset>', '4d']],
]);

table('coordination.k8s.io', 'Lease', [
  ['HOLDER', { ...meta('kube-scheduler'), spec: { holderIdentity: 'node-a_1234' } }, ['kube-scheduler', 'node-a_1234', '4d']],
  ['no holder', { ...meta('free'), spec: {} }, ['free', '', '4d']],
]);

table('scheduling.k8s.io', 'PriorityClass', [
  ['value, global default, preemption policy', { ...meta('high'), value: 1000000, globalDefault: true }, ['high', 1000000, true, '4d', 'PreemptLowerPriority']],
  ['never preempts', { ...meta('low'), value: -5, preemptionPolicy: 'Never' }, ['low', -5, false, '4d', 'Never']],
]);

table('node.k8s.io', 'RuntimeClass', [['HANDLER', { ...meta('gvisor'), handler: 'runsc' }, ['gvisor', 'runsc', '4d']]]);

table('certificates.k8s.io', 'CertificateSigningRequest', [
  [
    'pending, with a requested duration',
    { ...meta('csr-1'), spec: { signerName: 'kubernetes.io/kube-apiserver-client', username: 'alice', expirationSeconds: 86400, request: '' } },
    ['csr-1', '4d', 'kubernetes.io/kube-apiserver-client', 'alice', '24h', 'Pending'],
  ],
  [
    'approved and issued',
    {
      ...meta('csr-2'),
      spec: { signerName: 'kubernetes.io/kubelet-serving', username: 'system:node:a', request: '' },
      status: { conditions: [{ type: 'Approved', status: 'True' }], certificate: 'LS0t' },
    },
    ['csr-2', '4d', 'kubernetes.io/kubelet-serving', 'system:node:a', '<none>', 'Approved,Issued'],
  ],
  [
    'denied beats approved; failed is added',
    { ...meta('csr-3'), spec: { username: 'x', request: '' }, status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }, { type: 'Failed', status: 'True' }] } },
    ['csr-3', '4d', '<none>', 'x', '<none>', 'Denied,Failed'],
  ],
]);

table('autoscaling', 'HorizontalPodAutoscaler', [
  [
    'no metrics, no min: <none> and <unset>',
    { ...meta('web'), spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 10 }, status: { currentReplicas: 4, desiredReplicas: 4 } },
    ['web', 'Deployment/web', '<none>', '<unset>', 10, 4, '4d'],
  ],
  [
    'utilization with and without a current value',
    {
      ...meta('web'),
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
          { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1024Mi' } } },
        ],
      },
      status: { currentReplicas: 3, desiredReplicas: 3, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 50 } } }] },
    },
    ['web', 'Deployment/web', 'cpu: 50%/80%, memory: <unknown>/1Gi', '2', 10, 3, '4d'],
  ],
  [
    'external and pods metrics, and more than two',
    {
      ...meta('q'),
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'worker' },
        maxReplicas: 5,
        metrics: [
          { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'AverageValue', averageValue: '100m' } } },
          { type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } } },
          { type: 'Object', object: { metric: { name: 'x' }, describedObject: { kind: 'Service', name: 's' }, target: { type: 'Value', value: '1k' } } },
        ],
      },
      status: {
        currentReplicas: 1,
        desiredReplicas: 1,
        currentMetrics: [{ type: 'External', external: { metric: { name: 'queue' }, current: { averageValue: '50m' } } }],
      },
    },
    ['q', 'Deployment/worker', '50m/100m (avg), <unknown>/10 + 1 more...', '<unset>', 5, 1, '4d'],
  ],
]);

table('flowcontrol.apiserver.k8s.io', 'FlowSchema', [
  [
    'priority level, precedence, distinguisher, missing-PL flag',
    {
      ...meta('service-accounts'),
      spec: { priorityLevelConfiguration: { name: 'workload-low' }, matchingPrecedence: 9000, distinguisherMethod: { type: 'ByUser' } },
      status: { conditions: [{ type: 'Dangling', status: 'False' }] },
    },
    ['service-accounts', 'workload-low', 9000, 'ByUser', '4d', 'False'],
  ],
  ['no status yet is ?', { ...meta('x'), spec: { priorityLevelConfiguration: { name: 'y' }, matchingPrecedence: 1 } }, ['x', 'y', 1, '<none>', '4d', '?']],
]);

table('flowcontrol.apiserver.k8s.io', 'PriorityLevelConfiguration', [
  ['exempt levels have <none> everywhere', { ...meta('exempt'), spec: { type: 'Exempt', exempt: {} } }, ['exempt', 'Exempt', '<none>', '<none>', '<none>', '<none>', '4d']],
  [
    'queuing levels show shares and queue shape',
    {
      ...meta('workload-low'),
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 100, limitResponse: { type: 'Queue', queuing: { queues: 128, handSize: 6, queueLengthLimit: 50 } } } },
    },
    ['workload-low', 'Limited', 100, 128, 6, 50, '4d'],
  ],
  [
    'rejecting levels have shares only',
    { ...meta('catch-all'), spec: { type: 'Limited', limited: { nominalConcurrencyShares: 5, limitResponse: { type: 'Reject' } } } },
    ['catch-all', 'Limited', 5, '<none>', '<none>', '<none>', '4d'],
  ],
]);

table('admissionregistration.k8s.io', 'ValidatingWebhookConfiguration', [['WEBHOOKS counts webhooks', { ...meta('policy'), webhooks: [{}, {}] }, ['policy', 2, '4d']]]);
table('admissionregistration.k8s.io', 'MutatingWebhookConfiguration', [['no webhooks is 0', meta('inject'), ['inject', 0, '4d']]]);

table('admissionregistration.k8s.io', 'ValidatingAdmissionPolicy', [
  ['validations and param kind', { ...meta('replicas'), spec: { validations: [{ expression: 'true' }], paramKind: { apiVersion: 'v1', kind: 'ConfigMap' } } }, ['replicas', 1, 'v1/ConfigMap', '4d']],
  ['no param kind is <unset>', { ...meta('p'), spec: {} }, ['p', 0, '<unset>', '4d']],
]);

table('admissionregistration.k8s.io', 'ValidatingAdmissionPolicyBinding', [
  ['a named param in a namespace', { ...meta('b1'), spec: { policyName: 'replicas', paramRef: { name: 'limits', namespace: 'ops' } } }, ['b1', 'replicas', 'ops/limits', '4d']],
  ['a named param without namespace gets *', { ...meta('b2'), spec: { policyName: 'replicas', paramRef: { name: 'limits' } } }, ['b2', 'replicas', '*/limits', '4d']],
  [
    'a selected param prints the selector as Go’s String() does',
    { ...meta('b3'), spec: { policyName: 'replicas', paramRef: { selector: { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] } } } },
    [
      'b3',
      'replicas',
      '&LabelSelector{MatchLabels:map[string]string{env: prod,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}',
      '4d',
    ],
  ],
  ['no param ref', { ...meta('b4'), spec: { policyName: 'replicas' } }, ['b4', 'replicas', '<unset>', '4d']],
]);

table('apiregistration.k8s.io', 'APIService', [
  ['a local API', { ...meta('v1.apps'), spec: { group: 'apps', version: 'v1' }, status: { conditions: [{ type: 'Available', status: 'True', reason: 'Local' }] } }, ['v1.apps', 'Local', 'True', '4d']],
  [
    'an aggregated API that is down shows the reason',
    {
      ...meta('v1beta1.metrics.k8s.io'),
      spec: { service: { namespace: 'kube-system', name: 'metrics-server' } },
      status: { conditions: [{ type: 'Available', status: 'False', reason: 'MissingEndpoints' }] },
    },
    ['v1beta1.metrics.k8s.io', 'kube-system/metrics-server', 'False (MissingEndpoints)', '4d'],
  ],
  ['no condition yet is Unknown', { ...meta('v1.x'), spec: {} }, ['v1.x', 'Local', 'Unknown', '4d']],
]);
