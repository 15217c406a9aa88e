// Simulated nodes and their declarative pod lifecycle (the simulated runtime of ARCHITECTURE.md).
export * from './heartbeat.js';
export * from './node.js';
export * from './podIPs.js';
export * from './podSimulator.js';
export * from './podStages.js';
export * from './simulatedNodes.js';
export * from './stage.js';
export * from './taskPool.js';
export * from './template.js';
