// Server-side apply and field ownership, as stories of appliers and updaters taking turns on one
// Deployment. Expectations restate structured-merge-diff's and the API server's behaviour.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyConflictError,
  conflictCauses,
  conflictMessage,
  fromFieldsV1,
  PatchError,
  pathString,
  serverSideApply,
  updateManagedFields,
  type ApplyConflict,
  type ApplyOptions,
  type JsonObject,
  type ManagedFieldsEntry,
} from '../../../src/api/patch/index.js';
import { deployment } from './schemaFixture.js';

const day = (d: number): Date => new Date(Date.UTC(2024, 0, d));
const stamp = (d: number): string => `2024-01-${String(d).padStart(2, '0')}T00:00:00Z`;

interface DeploymentConfig {
  replicas?: number | null;
  labels?: Record<string, string>;
  finalizers?: string[];
  containers?: JsonObject[];
  tolerations?: JsonObject[];
}

/** An applied configuration for Deployment "web", with only the fields given. */
function config(c: DeploymentConfig): JsonObject {
  const metadata: JsonObject = { name: 'web' };
  if (c.labels) metadata['labels'] = c.labels;
  if (c.finalizers) metadata['finalizers'] = c.finalizers;
  const spec: JsonObject = {};
  if (c.replicas !== undefined) spec['replicas'] = c.replicas;
  const podSpec: JsonObject = {};
  if (c.containers) podSpec['containers'] = c.containers;
  if (c.tolerations) podSpec['tolerations'] = c.tolerations;
  if (Object.keys(podSpec).length) spec['template'] = { spec: podSpec };
  const out: JsonObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata };
  if (Object.keys(spec).length) out['spec'] = spec;
  return out;
}

const nginx = (image = 'nginx:1.25'): JsonObject => ({ name: 'nginx', image });

function apply(live: JsonObject | undefined, manager: string, applied: JsonObject, d: number, extra: Partial<ApplyOptions> = {}): JsonObject {
  const r = serverSideApply({ live, applied, manager, schema: deployment, now: day(d), ...extra });
  if (!r.ok) assert.fail(`unexpected conflicts: ${conflictMessage(r.conflicts)}`);
  return r.object;
}

function conflicts(live: JsonObject, manager: string, applied: JsonObject, d: number): ApplyConflict[] {
  const r = serverSideApply({ live, applied, manager, schema: deployment, now: day(d) });
  if (r.ok) assert.fail('expected conflicts');
  return r.conflicts;
}

/** A write by an ordinary client: `edit` changes a copy of the live object. */
function update(live: JsonObject | undefined, manager: string, edit: (o: JsonObject) => void, d: number, apiVersion = 'apps/v1'): JsonObject {
  const updated = structuredClone(live ?? config({}));
  edit(updated);
  return updateManagedFields({ live, updated, manager, apiVersion, now: day(d), schema: deployment }).object;
}

function entries(obj: JsonObject): ManagedFieldsEntry[] {
  return ((obj['metadata'] as JsonObject)['managedFields'] ?? []) as unknown as ManagedFieldsEntry[];
}

/** manager → owned paths, as conflicts print them. */
function owners(obj: JsonObject): Record<string, string[]> {
  return Object.fromEntries(entries(obj).map((e) => [`${e.manager}/${e.operation}`, fromFieldsV1(e.fieldsV1).paths().map(pathString)]));
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  const copy = structuredClone(obj);
  delete (copy['metadata'] as JsonObject)['managedFields'];
  return copy;
}

const spec = (o: JsonObject): JsonObject => o['spec'] as JsonObject;
const podSpecOf = (o: JsonObject): JsonObject => (spec(o)['template'] as JsonObject)['spec'] as JsonObject;

describe('serverSideApply creates and re-applies', () => {
  it('creates the object from the configuration and records the applier with its fields', () => {
    const applied = config({ replicas: 3, labels: { app: 'web' }, containers: [{ ...nginx(), ports: [{ containerPort: 80 }] }] });
    const r = serverSideApply({ live: undefined, applied, manager: 'kubectl', schema: deployment, now: day(1) });
    assert.ok(r.ok);
    assert.deepEqual(withoutManagedFields(r.object), applied);
    assert.deepEqual(r.managedFields, [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: stamp(1),
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:template': {
              'f:spec': {
                'f:containers': {
                  'k:{"name":"nginx"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                  },
                },
              },
            },
          },
        },
      },
    ]);
    assert.deepEqual(entries(r.object), r.managedFields);
  });

  it('changes nothing, managedFields and their time included, when the same configuration is applied again', () => {
    const applied = config({ replicas: 3, containers: [nginx()] });
    const first = apply(undefined, 'kubectl', applied, 1);
    const again = apply(first, 'kubectl', applied, 2);
    assert.deepEqual(again, first);
  });

  it('bumps the time when a re-apply changes the object', () => {
    const first = apply(undefined, 'kubectl', config({ replicas: 3 }), 1);
    const second = apply(first, 'kubectl', config({ replicas: 4 }), 2);
    assert.equal(spec(second)['replicas'], 4);
    assert.equal(entries(second)[0]?.time, stamp(2));
  });

  it('keeps what the server added (status, uid) that nobody owns', () => {
    const created = apply(undefined, 'kubectl', config({ replicas: 3 }), 1);
    const stored = structuredClone(created);
    (stored['metadata'] as JsonObject)['uid'] = 'u-1';
    stored['status'] = { replicas: 3 };
    const again = apply(stored, 'kubectl', config({ replicas: 2 }), 2);
    assert.equal((again['metadata'] as JsonObject)['uid'], 'u-1');
    assert.deepEqual(again['status'], { replicas: 3 });
  });

  it('names an applier without a name "unknown", as upstream does', () => {
    const created = apply(undefined, '', config({ replicas: 1 }), 1);
    assert.equal(entries(created)[0]?.manager, 'unknown');
  });

  it('removes a field set to null in the configuration and still records it as owned', () => {
    const created = apply(undefined, 'kubectl', config({ replicas: 3, labels: { app: 'web' } }), 1);
    const again = apply(created, 'kubectl', config({ replicas: null, labels: { app: 'web' } }), 2);
    assert.equal(spec(again)['replicas'], undefined);
    assert.deepEqual(owners(again), { 'kubectl/Apply': ['.metadata.labels.app', '.spec.replicas'] });
  });
});

describe('serverSideApply between managers', () => {
  it('shares a field when a second applier sets the same value', () => {
    const a = apply(undefined, 'a', config({ replicas: 3 }), 1);
    const b = apply(a, 'b', config({ replicas: 3 }), 2);
    assert.deepEqual(owners(b), { 'a/Apply': ['.spec.replicas'], 'b/Apply': ['.spec.replicas'] });
  });

  it('reports a conflict when a second applier changes a value the first owns', () => {
    const a = apply(undefined, 'a', config({ replicas: 3 }), 1);
    const got = conflicts(a, 'b', config({ replicas: 5 }), 2);
    assert.deepEqual(got, [{ manager: 'a', field: '.spec.replicas', operation: 'Apply', apiVersion: 'apps/v1' }]);
    assert.equal(conflictMessage(got), 'Apply failed with 1 conflict: conflict with "a": .spec.replicas');
  });

  it('moves the field to the applier when forced', () => {
    const a = apply(undefined, 'a', config({ replicas: 3, labels: { app: 'web' } }), 1);
    const b = apply(a, 'b', config({ replicas: 5 }), 2, { force: true });
    assert.equal(spec(b)['replicas'], 5);
    assert.deepEqual(owners(b), { 'a/Apply': ['.metadata.labels.app'], 'b/Apply': ['.spec.replicas'] });
  });

  it('drops the entry of a manager that loses its last field to a forced apply', () => {
    const a = apply(undefined, 'a', config({ replicas: 3 }), 1);
    const b = apply(a, 'b', config({ replicas: 5 }), 2, { force: true });
    assert.deepEqual(Object.keys(owners(b)), ['b/Apply']);
  });

  it('conflicts with an earlier updater, named with the apiVersion it wrote', () => {
    const created = update(undefined, 'kubectl-client-side-apply', (o) => (o['spec'] = { replicas: 3 }), 1);
    const got = conflicts(created, 'kubectl', config({ replicas: 5 }), 2);
    assert.equal(conflictMessage(got), 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
  });

  it('lets an update take a field from the applier, who then conflicts when re-applying the old value', () => {
    const applied = config({ replicas: 3, containers: [nginx('nginx:1.25')] });
    const a = apply(undefined, 'kubectl', applied, 1);
    const edited = update(a, 'kubectl-edit', (o) => ((podSpecOf(o)['containers'] as JsonObject[])[0]!['image'] = 'nginx:1.27'), 2);
    assert.deepEqual(owners(edited), {
      'kubectl/Apply': ['.spec.replicas', '.spec.template.spec.containers[name="nginx"]', '.spec.template.spec.containers[name="nginx"].name'],
      'kubectl-edit/Update': ['.spec.template.spec.containers[name="nginx"].image'],
    });
    const got = conflicts(edited, 'kubectl', applied, 3);
    assert.equal(
      conflictMessage(got),
      'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.template.spec.containers[name="nginx"].image',
    );
  });

  it('groups several conflicts by manager in the message', () => {
    const a = apply(undefined, 'a', config({ replicas: 3, labels: { app: 'web' } }), 1);
    const edited = update(a, 'kubectl-edit', (o) => ((o['metadata'] as JsonObject)['labels'] = { app: 'web', tier: 'fe' }), 2);
    const got = conflicts(edited, 'b', config({ replicas: 5, labels: { app: 'api', tier: 'be' } }), 3);
    assert.equal(
      conflictMessage(got),
      'Apply failed with 3 conflicts: conflicts with "a":\n- .metadata.labels.app\n- .spec.replicas\nconflicts with "kubectl-edit" using apps/v1:\n- .metadata.labels.tier',
    );
  });
});

describe('serverSideApply removes what the applier stopped applying', () => {
  it('removes a label the applier dropped', () => {
    const a = apply(undefined, 'a', config({ labels: { app: 'web', tier: 'fe' } }), 1);
    const again = apply(a, 'a', config({ labels: { app: 'web' } }), 2);
    assert.deepEqual((again['metadata'] as JsonObject)['labels'], { app: 'web' });
    assert.deepEqual(owners(again), { 'a/Apply': ['.metadata.labels.app'] });
  });

  it('keeps a dropped label that another applier also owns', () => {
    const a = apply(undefined, 'a', config({ labels: { app: 'web', tier: 'fe' } }), 1);
    const b = apply(a, 'b', config({ labels: { tier: 'fe' } }), 2);
    const again = apply(b, 'a', config({ labels: { app: 'web' } }), 3);
    assert.deepEqual((again['metadata'] as JsonObject)['labels'], { app: 'web', tier: 'fe' });
  });

  it('keeps replicas dropped from the configuration once an autoscaler has written them', () => {
    const a = apply(undefined, 'kubectl', config({ replicas: 3, containers: [nginx()] }), 1);
    const scaled = update(a, 'hpa', (o) => (spec(o)['replicas'] = 7), 2);
    const again = apply(scaled, 'kubectl', config({ containers: [nginx()] }), 3);
    assert.equal(spec(again)['replicas'], 7);
    assert.deepEqual(owners(again)['hpa/Update'], ['.spec.replicas']);
  });

  it('removes a container the applier dropped and keeps the one it still applies', () => {
    const a = apply(undefined, 'a', config({ containers: [nginx(), { name: 'log', image: 'busybox' }] }), 1);
    const again = apply(a, 'a', config({ containers: [nginx()] }), 2);
    assert.deepEqual(podSpecOf(again)['containers'], [nginx()]);
  });

  it('removes only the finalizer the applier dropped from a set two appliers fill', () => {
    const a = apply(undefined, 'a', config({ finalizers: ['example.com/a'] }), 1);
    const b = apply(a, 'b', config({ finalizers: ['example.com/b'] }), 2);
    assert.deepEqual((b['metadata'] as JsonObject)['finalizers'], ['example.com/a', 'example.com/b']);
    const again = apply(b, 'a', config({}), 3);
    assert.deepEqual((again['metadata'] as JsonObject)['finalizers'], ['example.com/b']);
    assert.deepEqual(Object.keys(owners(again)), ['b/Apply']);
  });
});

describe('serverSideApply merges lists by their type', () => {
  it('merges containers by name, keeping a container another manager added after its own', () => {
    const a = apply(undefined, 'kubectl', config({ containers: [nginx('nginx:1.25')] }), 1);
    const injected = update(a, 'injector', (o) => (podSpecOf(o)['containers'] as JsonObject[]).push({ name: 'proxy', image: 'envoy' }), 2);
    const again = apply(injected, 'kubectl', config({ containers: [nginx('nginx:1.27')] }), 3);
    assert.deepEqual(podSpecOf(again)['containers'], [nginx('nginx:1.27'), { name: 'proxy', image: 'envoy' }]);
    assert.deepEqual(owners(again)['injector/Update'], [
      '.spec.template.spec.containers[name="proxy"]',
      '.spec.template.spec.containers[name="proxy"].image',
      '.spec.template.spec.containers[name="proxy"].name',
    ]);
  });

  it('orders the containers as the configuration does, keeping a live-only one in place', () => {
    const live = update(undefined, 'creator', (o) => (o['spec'] = { template: { spec: { containers: [{ name: 'a' }, { name: 'x' }, { name: 'b' }] } } }), 1);
    const got = apply(live, 'kubectl', config({ containers: [{ name: 'b', image: '2' }, { name: 'a', image: '1' }] }), 2, { force: true });
    assert.deepEqual(
      (podSpecOf(got)['containers'] as JsonObject[]).map((c) => c['name']),
      ['x', 'b', 'a'],
    );
  });

  it('replaces an atomic list whole and owns it as one field', () => {
    const a = apply(undefined, 'a', config({ tolerations: [{ key: 'x' }, { key: 'y' }] }), 1);
    const again = apply(a, 'a', config({ tolerations: [{ key: 'z' }] }), 2);
    assert.deepEqual(podSpecOf(again)['tolerations'], [{ key: 'z' }]);
    assert.deepEqual(owners(again), { 'a/Apply': ['.spec.template.spec.tolerations'] });
  });
});

describe('serverSideApply on kinds without a schema', () => {
  const widget = (spec: JsonObject, labels: Record<string, string> = {}): JsonObject => ({
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w', labels, finalizers: ['example.com/a'] },
    spec,
  });

  it('types metadata as ObjectMeta and deduces the rest: maps by key, lists whole', () => {
    const r = serverSideApply({ live: undefined, applied: widget({ size: 1, ports: [80, 443] }, { app: 'w' }), manager: 'a', now: day(1) });
    assert.ok(r.ok);
    assert.deepEqual(r.managedFields[0]?.fieldsV1, {
      'f:metadata': { 'f:finalizers': { 'v:"example.com/a"': {} }, 'f:labels': { 'f:app': {} } },
      'f:spec': { '.': {}, 'f:ports': {}, 'f:size': {} },
    });
  });

  it('replaces a list whole and removes a field the applier dropped', () => {
    const a = apply(undefined, 'a', widget({ size: 1, ports: [80, 443], color: 'red' }), 1, { schema: undefined });
    const r = serverSideApply({ live: a, applied: widget({ size: 1, ports: [8080] }), manager: 'a', now: day(2) });
    assert.ok(r.ok);
    assert.deepEqual(r.object['spec'], { size: 1, ports: [8080] });
  });
});

describe('serverSideApply refuses configurations upstream refuses', () => {
  const cases: Array<[string, JsonObject]> = [
    ['one that carries managedFields', { ...config({}), metadata: { name: 'web', managedFields: [] } }],
    ['a container without its name', config({ containers: [{ image: 'nginx' }] })],
    ['the same container twice', config({ containers: [nginx(), nginx('other')] })],
    ['one without apiVersion', { kind: 'Deployment', metadata: { name: 'web' } }],
  ];
  for (const [name, applied] of cases) {
    it(`answers BadRequest for ${name}`, () => {
      assert.throws(
        () => serverSideApply({ live: undefined, applied, manager: 'a', schema: deployment, now: day(1) }),
        (e: unknown) => e instanceof PatchError && e.code === 'BadRequest',
      );
    });
  }
});

describe('updateManagedFields after ordinary writes', () => {
  it('records the fields of a created object for its creator, without metadata bookkeeping', () => {
    const created = update(undefined, 'kubectl-create', (o) => {
      (o['metadata'] as JsonObject)['labels'] = { app: 'web' };
      o['spec'] = { replicas: 1 };
    }, 1);
    const [entry] = entries(created);
    assert.deepEqual({ ...entry, fieldsV1: undefined }, { manager: 'kubectl-create', operation: 'Update', apiVersion: 'apps/v1', time: stamp(1), fieldsType: 'FieldsV1', fieldsV1: undefined });
    assert.deepEqual(owners(created)['kubectl-create/Update'], ['.spec', '.metadata.labels', '.metadata.labels.app', '.spec.replicas']);
  });

  it('keeps one entry per manager, operation and apiVersion, with the fields of both writes and the later time', () => {
    const created = update(undefined, 'm', (o) => (o['spec'] = { replicas: 1 }), 1);
    const twice = update(created, 'm', (o) => (spec(o)['paused'] = true), 2);
    assert.equal(entries(twice).length, 1);
    assert.equal(entries(twice)[0]?.time, stamp(2));
    assert.deepEqual(owners(twice)['m/Update'], ['.spec', '.spec.paused', '.spec.replicas']);
  });

  it('keeps separate entries for writes through different apiVersions', () => {
    const created = update(undefined, 'm', (o) => (o['spec'] = { replicas: 1 }), 1);
    const other = update(created, 'm', (o) => (spec(o)['paused'] = true), 2, 'apps/v1beta2');
    assert.deepEqual(entries(other).map((e) => e.apiVersion), ['apps/v1', 'apps/v1beta2']);
  });

  it('drops the entry of a manager whose only field another write changed', () => {
    const created = update(undefined, 'creator', (o) => (o['spec'] = { replicas: 1 }), 1);
    const scaled = update(created, 'scaler', (o) => (spec(o)['replicas'] = 2), 2);
    const rescaled = update(scaled, 'other', (o) => (spec(o)['replicas'] = 3), 3);
    assert.deepEqual(Object.keys(owners(rescaled)), ['creator/Update', 'other/Update']);
  });

  it('adds no entry and keeps every time when nothing changed', () => {
    const created = update(undefined, 'creator', (o) => (o['spec'] = { replicas: 1 }), 1);
    assert.deepEqual(update(created, 'noop', () => {}, 2), created);
  });

  it('adds no entry for a write that only changes resourceVersion and generation', () => {
    const created = update(undefined, 'creator', (o) => (o['spec'] = { replicas: 1 }), 1);
    const bumped = update(created, 'storage', (o) => Object.assign(o['metadata'] as JsonObject, { resourceVersion: '9', generation: 2 }), 2);
    assert.deepEqual(Object.keys(owners(bumped)), ['creator/Update']);
  });

  it('removes a deleted field from every owner', () => {
    const a = apply(undefined, 'a', config({ replicas: 3, labels: { app: 'web' } }), 1);
    const cleared = update(a, 'cleaner', (o) => delete (o['metadata'] as JsonObject)['labels'], 2);
    assert.deepEqual(owners(cleared), { 'a/Apply': ['.spec.replicas'] });
  });

  it('starts over when the client sends an empty managedFields list', () => {
    const a = apply(undefined, 'a', config({ replicas: 3 }), 1);
    const reset = update(a, 'resetter', (o) => ((o['metadata'] as JsonObject)['managedFields'] = []), 2);
    assert.equal((reset['metadata'] as JsonObject)['managedFields'], undefined);
  });

  it('uses the managedFields the client sends when they decode', () => {
    const a = apply(undefined, 'a', config({ replicas: 3 }), 1);
    const renamed = update(a, 'editor', (o) => {
      const [e] = (o['metadata'] as JsonObject)['managedFields'] as JsonObject[];
      e!['manager'] = 'renamed';
    }, 2);
    assert.deepEqual(Object.keys(owners(renamed)), ['renamed/Apply']);
  });

  it('merges the oldest updaters into "ancient-changes" beyond ten Update entries', () => {
    let obj: JsonObject | undefined;
    for (let i = 1; i <= 11; i++) {
      obj = update(obj, `m${i}`, (o) => (((o['metadata'] as JsonObject)['labels'] ??= {}) as JsonObject)[`l${i}`] = 'x', i);
    }
    const got = entries(obj as JsonObject);
    assert.equal(got.length, 10);
    assert.deepEqual(got[0]?.manager, 'ancient-changes');
    assert.equal(got[0]?.time, stamp(2));
    assert.deepEqual(fromFieldsV1(got[0]?.fieldsV1).paths().map(pathString), ['.metadata.labels', '.metadata.labels.l1', '.metadata.labels.l2']);
  });

  it('keeps the live managedFields when the new object does not fit the schema', () => {
    const a = apply(undefined, 'a', config({ containers: [nginx()] }), 1);
    const broken = update(a, 'b', (o) => (podSpecOf(o)['containers'] = [{ image: 'no-name' }]), 2);
    assert.deepEqual(entries(broken), entries(a));
  });
});

describe('conflict reporting', () => {
  const onReplicas: ApplyConflict = { manager: 'kubectl-client-side-apply', field: '.spec.replicas', operation: 'Update', apiVersion: 'apps/v1' };

  const messages: Array<[string, ApplyConflict[], string]> = [
    ['names an applier alone', [{ manager: 'a', field: '.spec.replicas', operation: 'Apply', apiVersion: 'apps/v1' }], 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'],
    ['names an updater with its apiVersion', [onReplicas], 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'],
    ['names the subresource an updater wrote through', [{ ...onReplicas, manager: 'hpa', subresource: 'scale' }], 'Apply failed with 1 conflict: conflict with "hpa" with subresource "scale" using apps/v1: .spec.replicas'],
  ];
  for (const [name, list, want] of messages) it(`${name} in the message`, () => assert.equal(conflictMessage(list), want));

  it('gives one FieldManagerConflict cause per field', () => {
    assert.deepEqual(conflictCauses([onReplicas]), [
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' },
    ]);
  });

  it('becomes a 409 Conflict Status with the causes', () => {
    const e = applyConflictError([onReplicas]);
    assert.equal(e.code, 'Conflict');
    assert.deepEqual(e.toStatus(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
      reason: 'Conflict',
      code: 409,
      details: { causes: conflictCauses([onReplicas]) },
    });
  });
});
