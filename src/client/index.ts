// The public API of k8ts's client machinery (our client-go): connection config, the REST client and
// typed resources, watch, informers and their factory, the workqueue, leader election, event recorders.
export * from './apiError.js';
export * from './clock.js';
export * from './config.js';
export * from './eventCorrelator.js';
export * from './events.js';
export * from './indexer.js';
export * from './informer.js';
export * from './informerFactory.js';
export * from './leaderElection.js';
export type { Lister } from './lister.js';
export * from './microTime.js';
export * from './rateLimiter.js';
export * from './resourceClient.js';
export * from './restClient.js';
export * from './tokenBucket.js';
export * from './watch.js';
export * from './workqueue.js';
