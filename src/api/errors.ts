/**
 * Every error that reaches a client goes through here: typed errors keep their code and status
 * (a storage fault is a 503 `store_unavailable` with Retry-After, logged), validation errors name
 * the field, framework errors a client can cause keep their 4xx status, and anything else is a
 * logged 500 that reveals nothing.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SwitchyardError, type ErrorCode } from '../domain/errors.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  /** Present with ajv's `verbose`: the schema that failed, which may carry `errorMessage`. */
  parentSchema?: { errorMessage?: string };
}

/** `body.priority: must be integer`, `body: unknown field "priorty"`, `querystring.limit: ...`. */
export function validationMessage(errors: readonly AjvError[], context: string): string {
  const e = errors[0];
  if (!e) return `${context}: invalid`;
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
  const where = `${context}${path}`;
  const custom = e.parentSchema?.errorMessage;
  if (custom !== undefined && e.keyword !== 'required' && e.keyword !== 'additionalProperties') {
    return `${where}: ${custom}`;
  }
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}: unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${where}.${String(e.params.missingProperty)}: is required`;
    case 'enum':
      return `${where}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    default:
      return `${where}: ${e.message ?? 'is invalid'}`;
  }
}

const frameworkCodes: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'body: is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'invalid_request',
    message: 'Content-Length does not match the body',
  },
};

/**
 * Seconds a client should wait before trying again, for the codes that clear by themselves. A
 * store fault (a full disk, a database restarting) takes a person or a restart to clear: asking
 * again every few seconds costs the broker nothing and notices the recovery soon enough.
 */
const retryAfterSeconds: Partial<Record<ErrorCode, number>> = {
  store_unavailable: 5,
};

export function errorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    if (error instanceof SwitchyardError) {
      const retryAfter = retryAfterSeconds[error.code];
      if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
      if (error.code === 'store_unavailable') {
        // Not the client's doing, and the operator must know: logged with the driver's error.
        logger.warn({ err: error, method: request.method, url: request.url }, error.message);
      }
      void reply.status(error.status).send(error.toJSON());
      return;
    }
    if (error.validation) {
      const err = new SwitchyardError(
        'invalid_request',
        validationMessage(error.validation as AjvError[], error.validationContext ?? 'request'),
      );
      void reply.status(400).send(err.toJSON());
      return;
    }
    const mapped = error.code ? frameworkCodes[error.code] : undefined;
    if (mapped) {
      const err = new SwitchyardError(mapped.code, mapped.message ?? error.message);
      void reply.status(err.status).send(err.toJSON());
      return;
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      const err = new SwitchyardError('invalid_request', `body: not valid JSON (${error.message})`);
      void reply.status(400).send(err.toJSON());
      return;
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const err = new SwitchyardError('invalid_request', error.message);
      void reply.status(status).send(err.toJSON());
      return;
    }
    logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    const err = new SwitchyardError('internal', 'internal error; the broker log has the details');
    void reply.status(500).send(err.toJSON());
  };
}
