/**
 * Switchyard's SDK: `import { Client, Worker } from 'switchyard'`. It loads no broker module
 * (no store, no Fastify, no pino): the broker is `switchyard/broker` (./main/index.ts).
 * Named exports only, so that the public surface grows on purpose.
 */
export {
  Client,
  type BrokerEventMessage,
  type ClientOptions,
  type EventStream,
  type EventsQuery,
  type EventName,
  type EventPayloads,
  type EventStreamMessage,
  type GapMessage,
  type StreamEvent,
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
  type LogFn,
  type Logger,
} from './worker/index.js';
export { SwitchyardError, type ErrorCode } from './domain/errors.js';
export type { JobState } from './domain/job.js';
export type { LimitBody as Limit, QueueBody as Queue } from './client/client.js';
export type { QueueSettingsPatchBody as QueueSettingsPatch } from './protocol/queues.js';
export type { Discipline, QueueSettings } from './domain/queues.js';
export type {
  ActionRequest,
  ActionResult,
  Backoff,
  FailedGrouping,
  FailedGroups,
  FreezeBody,
  JobAction,
  JobBody as Job,
  JobFilter,
  JobList,
  JobListQuery,
  LogList,
  Notify,
  PatchJob,
  StatsBody as Stats,
  SubmitJob,
  Unique,
  WorkerBody as WorkerInfo,
} from './protocol/api.js';
