/**
 * The Switchyard client SDK: `new Client({ url, token })` and the wire types it speaks.
 */
export {
  Client,
  DEFAULT_URL,
  WaitTimeoutError,
  type ClientOptions,
  type Health,
  type LimitBody,
  type LogQuery,
  type QueueBody,
  type WaitOptions,
} from './client.js';
export type { QueueSettingsPatchBody } from '../protocol/queues.js';
export type { Discipline, QueueSettings } from '../domain/queues.js';
export type { BrokerEventMessage, EventStream, EventsQuery } from './events.js';
export type {
  EventName,
  EventPayloads,
  EventStreamMessage,
  GapMessage,
  StreamEvent,
} from '../protocol/events.js';
export type { WatchOptions } from './watch.js';
export type { ScheduleBody, ScheduleCreate, SchedulePatch } from '../protocol/schedules.js';
export { SwitchyardError, type ErrorCode } from '../domain/errors.js';
export type { JobState } from '../domain/job.js';
export type {
  ActionRequest,
  ActionResult,
  Backoff,
  FailedGrouping,
  FailedGroups,
  FreezeBody,
  JobAction,
  JobBody,
  JobFilter,
  JobMessageBody,
  MessageList,
  JobList,
  JobListQuery,
  LogList,
  Notify,
  PatchJob,
  StatsBody,
  SubmitJob,
  Unique,
  WorkerBody,
  SleepScheduleBody,
  BlockBody,
} from '../protocol/api.js';
export type {
  BlocklistCleared,
  UsageBody,
  WorkerServedRequest,
  WorkerStatusRequest,
} from '../protocol/workers.js';
