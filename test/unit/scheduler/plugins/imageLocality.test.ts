import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ImageLocality, normalizedImageName } from '../../../../src/scheduler/plugins/imageLocality.js';
import type { ScorePlugin } from '../../../../src/scheduler/framework/types.js';
import { MiB, makeNode, makePod, makeSnapshot, newPlugin, newState } from './builders.js';

// Upstream's image_locality_test nodes.
const node1 = makeNode({
  name: 'node1',
  images: [
    { names: ['gcr.io/40:latest', 'gcr.io/40:v1'], sizeBytes: 40 * MiB },
    { names: ['gcr.io/300:latest', 'gcr.io/300:v1'], sizeBytes: 300 * MiB },
    { names: ['gcr.io/2000:latest'], sizeBytes: 2000 * MiB },
  ],
});
const node2 = makeNode({
  name: 'node2',
  images: [
    { names: ['gcr.io/250:latest'], sizeBytes: 250 * MiB },
    { names: ['gcr.io/10:latest', 'gcr.io/10:v1'], sizeBytes: 10 * MiB },
  ],
});
const node3 = makeNode({
  name: 'node3',
  images: [
    { names: ['gcr.io/600:latest'], sizeBytes: 600 * MiB },
    { names: ['gcr.io/2000:latest'], sizeBytes: 2000 * MiB },
  ],
});
const emptyNode = makeNode({ name: 'node4' });

const podWithImages = (images: string[], initImages: string[] = []) =>
  makePod({ containers: images.map((image) => ({ image })), ...(initImages.length ? { initContainers: initImages.map((image) => ({ image })) } : {}) });

function scores(pod: Pod, nodes: ReturnType<typeof makeNode>[]): number[] {
  const infos = makeSnapshot(nodes);
  const p = newPlugin<ScorePlugin>(ImageLocality, undefined, infos);
  return infos.map((ni) => p.score(newState(), pod, ni) as number);
}

describe('ImageLocality Score', () => {
  const cases: Array<[string, Pod, ReturnType<typeof makeNode>[], number[]]> = [
    // node1: 40MB × 1/2 = 20MB < 23MB → 0; node2: 250MB × 1/2 = 125MB → 100 × (125 − 23) / (2000 − 23) = 5
    ['of two images spread over two nodes the node with the larger one wins', podWithImages(['gcr.io/40', 'gcr.io/250']), [node1, node2], [0, 5]],
    // node1: (40 + 300) × 1/2 = 170MB → 7
    ['two images on one node favour that node', podWithImages(['gcr.io/40', 'gcr.io/300']), [node1, node2], [7, 0]],
    // node1: 2000 × 1/2 = 1000MB → 49; node2: 10MB × 1/2 → 0
    ['a huge image counts up to the per-container limit', podWithImages(['gcr.io/2000', 'gcr.io/10:v1']), [node1, node2], [49, 0]],
    // gcr.io/2000 on 2 of 3 nodes: 2000 × 2/3 = 1333MB → 100 × (1333 − 23) / (2000 − 23) = 66 on node1;
    // node3 adds 600 × 1/3 = 200MB → 1533MB → 76
    ['an image on many nodes is scaled down by its spread', podWithImages(['gcr.io/2000', 'gcr.io/600']), [node1, node2, node3], [66, 0, 76]],
    // Two containers (one init): node2 125MB → 100 × (125 − 23) / (2000 − 23) = 5
    ['init containers’ images count too', podWithImages(['gcr.io/250'], ['gcr.io/40']), [node1, node2], [0, 5]],
    ['a node without images scores zero', podWithImages(['gcr.io/40']), [emptyNode], [0]],
    ['tags are matched exactly', podWithImages(['gcr.io/300:v2']), [node1, node2], [0, 0]],
  ];
  for (const [name, pod, nodes, want] of cases) it(name, () => assert.deepEqual(scores(pod, nodes), want));

  it('short docker hub names match the fully qualified names runtimes report', () => {
    const n = makeNode({ name: 'n', images: [{ names: ['docker.io/library/nginx:latest'], sizeBytes: 500 * MiB }] });
    // 500MB on 1 of 1 node → 100 × (500 − 23) / (1000 − 23) = 48
    assert.deepEqual(scores(podWithImages(['nginx']), [n]), [48]);
  });
});

describe('normalizedImageName', () => {
  const cases: Array<[string, string]> = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['library/nginx', 'docker.io/library/nginx:latest'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
    ['gcr.io/pause', 'gcr.io/pause:latest'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['localhost/app:v1', 'localhost/app:v1'],
    ['nginx@sha256:abc', 'docker.io/library/nginx@sha256:abc'],
    ['nginx:1.27@sha256:abc', 'docker.io/library/nginx:1.27@sha256:abc'],
  ];
  for (const [input, want] of cases) it(`${input} → ${want}`, () => assert.equal(normalizedImageName(input), want));
});
