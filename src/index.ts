/**
 * Switchyard's public API: `import { Client, Worker } from 'switchyard'`.
 * Named exports only, so that the public surface grows on purpose.
 */
export {
  Client,
  type BrokerEventMessage,
  type ClientOptions,
  type EventStream,
  type WaitOptions,
} from './client/index.js';
export {
  Worker,
  createShellHandler,
  HandlerError,
  InfrastructureError,
  JobAborted,
  PermanentError,
  RetryableError,
  type AbortKind,
  type Handler,
  type JobContext,
  type WorkerEvents,
  type WorkerOptions,
  type ShellPayload,
  type ShellResult,
} from './worker/index.js';
export { SwitchyardError, type ErrorCode } from './domain/errors.js';
export type { JobState } from './domain/job.js';
export type {
  JobBody as Job,
  JobList,
  JobListQuery,
  LogList,
  StatsBody as Stats,
  SubmitJob,
  WorkerBody as WorkerInfo,
} from './protocol/api.js';
export { startBroker, type BrokerOptions, type RunningBroker } from './main/index.js';
export type { BrokerConfig } from './config/types.js';
