/**
 * The Switchyard client SDK: `new Client({ url, token })` and the wire types it speaks.
 */
export {
  Client,
  DEFAULT_URL,
  WaitTimeoutError,
  type ClientOptions,
  type Health,
  type LogQuery,
  type WaitOptions,
} from './client.js';
export type { BrokerEventMessage, EventStream } from './events.js';
export { SwitchyardError, type ErrorCode } from '../domain/errors.js';
export type { JobState } from '../domain/job.js';
export type {
  JobBody,
  JobList,
  JobListQuery,
  LogList,
  StatsBody,
  SubmitJob,
  WorkerBody,
} from '../protocol/api.js';
