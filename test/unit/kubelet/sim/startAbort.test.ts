import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { RestClient } from '../../../../src/client/restClient.js';
import { startSimulatedNodes } from '../../../../src/kubelet/sim/simulatedNodes.js';

test('registration keeps retrying an unreachable API server and gives up cleanly when aborted', async () => {
  // A port nothing listens on: bind, read the port, close.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const client = new RestClient({ server: `http://127.0.0.1:${port}` }, { qps: -1 });
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(new Error('test gave up')), 700);
  await assert.rejects(startSimulatedNodes({ client, nodes: 3 }, ac.signal), /test gave up/);
  assert.ok(Date.now() - t0 >= 650, 'it kept retrying until aborted');
  client.close();
});
