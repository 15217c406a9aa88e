import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MULTI_POINT, parseSchedulerConfig } from '../../../src/scheduler/config.js';
import { ConfigError } from '../../../src/scheduler/framework/types.js';

const doc = (body: string) => `apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n${body}`;

describe('KubeSchedulerConfiguration', () => {
  it('defaults to one default-scheduler profile with upstream’s plugins, weights and back-off', () => {
    const c = parseSchedulerConfig(undefined);
    assert.equal(c.profiles.length, 1);
    assert.equal(c.profiles[0]!.schedulerName, 'default-scheduler');
    assert.deepEqual(c.profiles[0]!.multiPoint, DEFAULT_MULTI_POINT);
    assert.deepEqual([c.podInitialBackoffSeconds, c.podMaxBackoffSeconds, c.parallelism, c.percentageOfNodesToScore], [1, 10, 16, undefined]);
    assert.deepEqual([c.leaderElection.leaderElect, c.leaderElection.resourceName, c.leaderElection.resourceNamespace, c.leaderElection.leaseDurationMs], [true, 'kube-scheduler', 'kube-system', 15000]);
  });

  it('reads profiles, plugin changes, weights and plugin args', () => {
    const c = parseSchedulerConfig(
      doc(`percentageOfNodesToScore: 30
leaderElection: {leaderElect: false}
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled: [{name: ImageLocality}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: NodeResourcesFitArgs
      scoringStrategy: {type: MostAllocated}
- schedulerName: no-preemption
  plugins:
    multiPoint:
      disabled: [{name: DefaultPreemption}]
`),
    );
    assert.equal(c.percentageOfNodesToScore, 30);
    assert.equal(c.leaderElection.leaderElect, false);
    assert.deepEqual(c.profiles[0]!.points.score, { enabled: [{ name: 'NodeResourcesFit', weight: 5 }], disabled: ['ImageLocality'] });
    assert.deepEqual(c.profiles[0]!.pluginArgs.get('NodeResourcesFit'), { scoringStrategy: { type: 'MostAllocated' } });
    assert.equal(c.profiles[1]!.multiPoint.some((p) => p.name === 'DefaultPreemption'), false);
  });

  const bad: Array<[string, string, string]> = [
    ['an unknown field is refused, as upstream decodes strictly', doc('foo: 1\n'), 'foo'],
    ['an unknown field inside a profile names its path', doc('profiles:\n- schedulerName: a\n  plugin: {}\n'), 'profiles[0].plugin'],
    ['a percentage above 100', doc('percentageOfNodesToScore: 150\n'), 'percentageOfNodesToScore'],
    ['a zero parallelism', doc('parallelism: 0\n'), 'parallelism'],
    ['a max back-off below the initial one', doc('podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n'), 'podMaxBackoffSeconds'],
    ['two profiles with one name', doc('profiles:\n- schedulerName: a\n- schedulerName: a\n'), 'profiles[1].schedulerName'],
    ['a second profile without a name', doc('profiles:\n- schedulerName: a\n- {}\n'), 'profiles[1].schedulerName'],
    ['plugin args given twice', doc('profiles:\n- pluginConfig:\n  - {name: X, args: {}}\n  - {name: X, args: {}}\n'), 'profiles[0].pluginConfig[1]'],
    ['an old API version', 'apiVersion: kubescheduler.config.k8s.io/v1beta2\nkind: KubeSchedulerConfiguration\n', 'apiVersion'],
    ['a weight that is not a number', doc('profiles:\n- plugins:\n    score:\n      enabled: [{name: A, weight: high}]\n'), 'profiles[0].plugins.score.enabled[0].weight'],
    ['a bad duration', doc('leaderElection: {leaseDuration: soon}\n'), 'leaderElection.leaseDuration'],
    ['malformed YAML', 'apiVersion: [', ''],
  ];
  for (const [name, text, field] of bad) {
    it(`refuses ${name}, naming the field`, () => {
      assert.throws(() => parseSchedulerConfig(text), (e: unknown) => e instanceof ConfigError && e.field === field);
    });
  }
});
