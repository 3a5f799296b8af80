/**
 * The worker side: the SDK `Worker` that runs TypeScript handlers, and the shell runner of the
 * `switchyard worker` agent. Named exports only, so that the public API grows on purpose.
 */
export {
  Worker,
  type DisconnectInfo,
  type Handler,
  type JobContext,
  type WorkerEvents,
  type WorkerOptions,
} from './worker.js';
export {
  HandlerError,
  InfrastructureError,
  JobAborted,
  PermanentError,
  RetryableError,
  type AbortKind,
  type Failure,
  type FailureOptions,
} from './errors.js';
export { warningsLogger, type LogFn, type Logger } from './logger.js';
export { createHttpHandler, parseHttpPayload, type HttpOptions, type HttpResult } from './http.js';
export {
  createShellHandler,
  parseShellPayload,
  type ShellOptions,
  type ShellPayload,
  type ShellResult,
} from './shell.js';
