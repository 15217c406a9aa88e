// The same conformance suite as the SQLite store, against a real etcd 3.4.
import { MAX_VALUE_BYTES } from '../../../src/storage/errors.js';
import { EtcdKV } from '../../../src/storage/etcd/etcdKV.js';
import { skipWithoutEtcd, startEtcd } from '../../support/etcd.js';
import { storeConformance, storeUnderTest } from '../../support/storeConformance.js';

if (skipWithoutEtcd()) {
  process.stdout.write(`# SKIP etcd store conformance: ${skipWithoutEtcd()}\n`);
} else {
  storeConformance('etcd 3.4', async () => {
    // etcd counts the whole request against --max-request-bytes; leave room for a full 1.5 MiB value.
    const etcd = await startEtcd({ maxRequestBytes: MAX_VALUE_BYTES + 64 * 1024 });
    return storeUnderTest(await EtcdKV.connect({ endpoints: [etcd.endpoint] }), () => etcd.stop());
  });
}
