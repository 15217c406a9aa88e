import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { emptyDirMemorySize } from '../../../../src/kubelet/volumes/manager.js';

const Mi = 1024 * 1024;
const c = (memory?: string, restartPolicy?: string): Container => ({ name: 'c', image: 'x', ...(memory ? { resources: { limits: { memory } } } : {}), ...(restartPolicy ? { restartPolicy } : {}) });
const pod = (containers: Container[], initContainers: Container[] = []): Pod => ({ spec: { containers, initContainers } });

describe('memory-backed volume size (upstream calculateEmptyDirMemorySize)', () => {
  const cases: Array<[string, Pod, string | undefined, number]> = [
    ['without limits it is node allocatable', pod([c()]), undefined, 1024 * Mi],
    ['with every container limited it is the pod limit', pod([c('100Mi'), c('50Mi')]), undefined, 150 * Mi],
    ['one unlimited container means no pod limit', pod([c('100Mi'), c()]), undefined, 1024 * Mi],
    ['a smaller sizeLimit wins', pod([c('100Mi')]), '10Mi', 10 * Mi],
    ['a sizeLimit above the pod limit is ignored', pod([c('100Mi')]), '500Mi', 100 * Mi],
    ['a large init container raises the pod limit', pod([c('100Mi')], [c('300Mi')]), undefined, 300 * Mi],
    ['sidecars add to the pod limit', pod([c('100Mi')], [c('50Mi', 'Always')]), undefined, 150 * Mi],
  ];
  for (const [name, p, sizeLimit, want] of cases) it(name, () => assert.equal(emptyDirMemorySize(1024 * Mi, p, sizeLimit), want));
});
