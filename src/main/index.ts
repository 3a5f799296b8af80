/** The broker node, for embedding: `import { startBroker } from 'switchyard/broker'`. */
export { startBroker, type BrokerOptions, type RunningBroker } from './broker.js';
export type { BrokerEvents } from '../broker/events.js';
export { StartupError } from '../domain/errors.js';
export { brokerDefaults, type BrokerConfig } from '../config/types.js';
export { startMonitor, type MonitorOptions, type RunningMonitor } from './monitor.js';
