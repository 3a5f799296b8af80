/** The broker node. */
export { startBroker, type BrokerOptions, type RunningBroker } from './broker.js';
export type { BrokerEvents } from './events.js';
