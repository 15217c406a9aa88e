// computeHash against golden values from the real go-spew (k8s' pinned commit) dumping the
// 1.32 Go structs, with apimachinery's own ParseQuantity for the quantities: FNV-32a sums and the
// hashes for collisionCount nil and 3.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { computeHash, fnv32a, parseQuantity, safeEncodeString, spewPodTemplate } from '../../../../src/controllers/deployment/podTemplateHash.js';

// `kubectl create deployment web --image=nginx:1.25` as an upstream apiserver defaults its template.
const NGINX = {"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}} as unknown as PodTemplateSpec;
// Maps with unsorted and non-ASCII keys, intstr ports (name and number), pointers, nested structs.
const RICH: PodTemplateSpec = {"metadata":{"labels":{"tier":"fe","app":"web","ä":"x"},"annotations":{"b":"2","a":"1"}},"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"h","hostPath":{"path":"/x","type":""}}],"containers":[{"name":"c","image":"busybox","command":["sh","-c","sleep 1"],"ports":[{"containerPort":80,"protocol":"TCP","name":"http"}],"env":[{"name":"A","value":"b"},{"name":"P","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}}],"readinessProbe":{"httpGet":{"path":"/","port":"http","scheme":"HTTP"},"periodSeconds":10,"successThreshold":1,"failureThreshold":3,"timeoutSeconds":1},"livenessProbe":{"tcpSocket":{"port":8080}},"securityContext":{"privileged":false,"capabilities":{"add":["NET_ADMIN"]}},"volumeMounts":[{"name":"v","mountPath":"/v"}]}],"nodeSelector":{"zone":"a","disk":"ssd"},"tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule","tolerationSeconds":5}],"enableServiceLinks":true,"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"In","values":["x","y"]}]}]}}}}};
// Quantities on the int64 path (100m, 128Mi) and the inf.Dec path (1.5Gi).
const RESOURCES: PodTemplateSpec = {"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"1.5Gi"}}}]}};

describe('pod-template-hash', () => {
  const cases: Array<{ name: string; template: PodTemplateSpec; fnv: number; hash: string; hash3: string }> = [
    { name: 'the defaulted template of kubectl create deployment', template: NGINX, fnv: 3640719519, hash: '7b84c5f95f', hash3: 'dd4bbdc44' },
    { name: 'a template with maps, probes, volumes, affinity and tolerations', template: RICH, fnv: 2157890601, hash: '659cdf4b45', hash3: '97f798fdb' },
    { name: 'a template with requests and limits', template: RESOURCES, fnv: 2165968939, hash: '65b9fbdf7f', hash3: '8596996c88' },
  ];
  for (const c of cases) {
    it(`matches go-spew + FNV-32a for ${c.name}`, () => {
      assert.equal(fnv32a(Buffer.from(spewPodTemplate(c.template))), c.fnv);
      assert.equal(computeHash(c.template), c.hash);
      assert.equal(computeHash(c.template, 3), c.hash3);
    });
  }

  it('dumps like go-spew %#v: typed fields, nil pointers and lists, bare strings, sorted map keys', () => {
    const s = spewPodTemplate({ metadata: { labels: { b: '2', a: '1' } }, spec: { containers: [{ name: 'c', args: [] }] } });
    assert.ok(s.startsWith('(v1.PodTemplateSpec){ObjectMeta:(v1.ObjectMeta){Name:(string) GenerateName:(string) '));
    assert.match(s, / Labels:\(map\[string\]string\)map\[a:1 b:2\] Annotations:\(map\[string\]string\)<nil> /);
    assert.match(s, /Containers:\(\[\]v1\.Container\)\[\{Name:\(string\)c Image:\(string\) Command:\(\[\]string\)<nil> Args:\(\[\]string\)<nil> /);
    assert.match(s, / TerminationGracePeriodSeconds:\(\*int64\)<nil> /);
  });

  it('encodes digits into the vowel-free alphabet (rand.SafeEncodeString)', () => {
    assert.equal(safeEncodeString('0123456789'), '456789bcdf');
    assert.equal(fnv32a(Buffer.from('')), 0x811c9dc5);
    assert.equal(fnv32a(Buffer.from('a')), 0xe40c292c);
  });

  const quantities: Array<[string, Partial<ReturnType<typeof parseQuantity>>]> = [
    ['100m', { value: 100n, scale: -3, s: '100m', format: 'DecimalSI' }],
    ['1000m', { value: 1000n, scale: -3, s: '', format: 'DecimalSI' }],
    ['128Mi', { value: 134217728n, scale: 0, s: '', format: 'BinarySI' }],
    ['100Mi', { value: 104857600n, scale: 0, s: '100Mi', format: 'BinarySI' }],
    ['0', { value: 0n, scale: 0, s: '0', format: 'DecimalSI' }],
    ['1.5', { value: 15n, scale: -1, s: '', format: 'DecimalSI' }],
    ['1e3', { value: 1n, scale: 3, s: '1e3', format: 'DecimalExponent' }],
    ['1.5Gi', { dec: { unscaled: 1610612736000000000n, scale: 9 }, s: '', format: 'BinarySI' }],
  ];
  for (const [q, want] of quantities) {
    it(`parses ${q} into the representation apimachinery keeps`, () => {
      const got = parseQuantity(q);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, k);
    });
  }
});
