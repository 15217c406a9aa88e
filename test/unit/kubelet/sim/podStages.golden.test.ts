// Golden tests of the default pod stages, kwok-style: each testdata/<case>.input.yaml is a pod as
// the API would hand it to a simulated node; testdata/<case>.output.yaml is the stage that applies,
// its delay and the exact actions (status patch, delete) the simulator sends.
// Regenerate after an intended change with K8TS_UPDATE_GOLDEN=1 and review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { DEFAULT_POD_STAGES } from '../../../../src/kubelet/sim/podStages.js';
import { podTemplateContext, simulationView, type SimulatedNodeDirectory } from '../../../../src/kubelet/sim/podSimulator.js';
import { PodIPAllocator } from '../../../../src/kubelet/sim/podIPs.js';
import { matchingStages, pickStage, planStageActions, stageDelayMs } from '../../../../src/kubelet/sim/stage.js';

const DIR = fileURLToPath(new URL('../../../../../test/unit/kubelet/sim/testdata/', import.meta.url));
const NOW = Date.parse('2026-01-01T00:01:00Z');

function directory(): SimulatedNodeDirectory {
  const ips = new PodIPAllocator('10.128.0.0/24');
  return {
    has: (n) => n === 'k8ts-sim-0',
    nodeIP: () => '10.250.0.1',
    allocatePodIP: (_n, uid) => ips.allocate(uid),
    occupyPodIP: (_n, uid, ip) => void ips.occupy(uid, ip),
    releasePodIP: (_n, uid) => ips.release(uid),
  };
}

function simulate(input: Pod): unknown {
  const nodes = directory();
  const pod = simulationView(input, nodes.has);
  const stage = pickStage(matchingStages(DEFAULT_POD_STAGES, 'Pod', pod), 0.5);
  if (!stage) return { stage: null };
  return { stage: stage.name, delayMs: stageDelayMs(stage, pod, NOW, 0.5), actions: planStageActions(stage, pod, podTemplateContext(pod, nodes, NOW)) };
}

const cases = readdirSync(DIR).filter((f) => f.endsWith('.input.yaml')).sort();

test('there are golden cases', () => {
  assert.ok(cases.length >= 10);
});

for (const file of cases) {
  const name = file.replace(/\.input\.yaml$/, '');
  const input = readFileSync(DIR + file, 'utf8');
  const description = /^# (.*)$/m.exec(input)?.[1] ?? name;
  test(`${name}: ${description}`, () => {
    const got = simulate(parse(input) as Pod);
    const outFile = `${DIR}${name}.output.yaml`;
    if (process.env['K8TS_UPDATE_GOLDEN'] === '1' || !existsSync(outFile)) {
      assert.ok(process.env['K8TS_UPDATE_GOLDEN'] === '1', `missing ${outFile} (run with K8TS_UPDATE_GOLDEN=1 to create it)`);
      writeFileSync(outFile, stringify(got));
    }
    assert.deepEqual(got, parse(readFileSync(outFile, 'utf8')));
  });
}
