/**
 * The monitor's routes: the WebSocket `/api/v1/monitor` (src/api/monitor.ts) and
 * `POST /api/v1/jobs/:id/monitor-token`, which makes a link for watching one job.
 *
 * Who may watch: with tokens on, a client token (an `Authorization: Bearer` header, or
 * `?token=` for browsers, which cannot set headers on a WebSocket) may watch any job; an access
 * token (`?access=`, from monitor-token) lets its bearer watch its one job and no other, and
 * needs no client token. Without tokens anyone on the machine may watch any job, and an access
 * token, when given, still binds the socket to its job.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { WebSocket } from 'ws';
import { notFound, SwitchyardError } from '../../domain/errors.js';
import { bearer, tokenIn } from '../../broker/auth.js';
import { MAX_ACCESS_TTL_S } from '../../broker/access.js';
import { API_PREFIX, JobIdParams } from '../../protocol/api.js';
import { ID_MESSAGE, ID_PATTERN, SEQ_MESSAGE, SEQ_PATTERN } from '../../protocol/ids.js';
import type { ApiContext } from '../context.js';
import { MonitorClose, whenJobNamed } from '../monitor.js';
import { errorResponses } from '../openapi.js';

const MonitorQuery = Type.Object(
  {
    job: Type.Optional(
      Type.String({
        pattern: ID_PATTERN,
        description: 'The job to watch (else the first message names it)',
        errorMessage: `job id: ${ID_MESSAGE}`,
      }),
    ),
    since: Type.Optional(
      Type.String({
        pattern: SEQ_PATTERN,
        description: 'Resume after this seq (the last message seen)',
        errorMessage: `since: ${SEQ_MESSAGE}`,
      }),
    ),
    access: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'An access token from POST /jobs/{id}/monitor-token: this job only',
      }),
    ),
    token: Type.Optional(
      Type.String({ maxLength: 1000, description: 'A client token, for browsers' }),
    ),
  },
  { additionalProperties: false },
);
type MonitorQuery = Static<typeof MonitorQuery>;

const TokenBody = Type.Object(
  {
    ttl: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_ACCESS_TTL_S,
        default: 3600,
        description: 'Seconds the link is valid (at most a week)',
      }),
    ),
  },
  { additionalProperties: false },
);

const MonitorToken = Type.Object({
  token: Type.String({ description: 'Pass as `?access=` to the monitor' }),
  expiresAt: Type.String({ format: 'date-time' }),
  path: Type.String({ description: 'The monitor path with the job and the token' }),
});

/** What the socket may watch: any job, or the one its access token names. */
type Grant = { any: true } | { jobId: number };

export function monitorRoutes(ctx: ApiContext): FastifyPluginAsync {
  const clientTokens = [...ctx.config.auth.clientTokens, ...ctx.config.auth.adminTokens];
  const authOn = clientTokens.length > 0;

  /** Decided before the upgrade: a refused socket gets an HTTP 401, not a WebSocket. */
  const grantOf = (request: FastifyRequest<{ Querystring: MonitorQuery }>): Grant => {
    const { access, token } = request.query;
    if (access !== undefined) {
      const checked = ctx.access.check(access, ctx.clock.now());
      if ('refused' in checked) throw new SwitchyardError('unauthorized', checked.refused);
      return { jobId: checked.jobId };
    }
    if (!authOn) return { any: true };
    const given = bearer(request.headers.authorization) ?? token;
    if (tokenIn(given, clientTokens)) return { any: true };
    throw new SwitchyardError(
      'unauthorized',
      'the monitor needs a client token (Authorization: Bearer, or ?token=) or an access ' +
        'token for one job (?access=)',
    );
  };

  return async (app) => {
    app.route<{ Querystring: MonitorQuery }>({
      method: 'GET',
      url: `${API_PREFIX}/monitor`,
      config: { public: true },
      schema: {
        summary: "Watch one job's messages live (WebSocket)",
        description:
          'A WebSocket. Name the job by `?job=ID` or by a first text message holding its id. ' +
          "The job's stored messages come first (after `since`, if given), then live ones, " +
          'each a JSON JobMessage; after the message of its end (succeeded, failed or ' +
          'canceled) the socket is closed with 1000. Close codes: 4404 no such job, 4403 the ' +
          'access token is for another job, 4408 no job named within 10 s, 1008 the browser ' +
          'sent something after naming its job (only the broker publishes).',
        tags: ['monitor'],
        operationId: 'monitorJob',
        // A client token, or none with an access token (?access=) for the one job.
        ...(authOn ? { security: [{ bearer: [] }, {}] } : {}),
        querystring: MonitorQuery,
        response: {
          101: { description: 'Switching Protocols: the WebSocket' },
          ...errorResponses([401, 426], {
            401: 'A client token or a valid, unexpired access token is required',
            426: 'Upgrade Required: this route speaks WebSocket only',
          }),
        },
      },
      preValidation: async (request) => {
        // The grant is checked once, before the upgrade, and kept for the socket.
        (request as unknown as { grant: Grant }).grant = grantOf(request);
      },
      handler: async () => {
        throw new SwitchyardError('upgrade_required', 'connect with a WebSocket');
      },
      wsHandler: (socket: WebSocket, request) => {
        const grant = (request as unknown as { grant: Grant }).grant;
        const since = Number(request.query.since ?? 0);
        whenJobNamed(socket, request.query.job, ctx.clock, (named) => {
          const jobId = Number(named);
          if ('jobId' in grant && grant.jobId !== jobId) {
            socket.close(MonitorClose.forbidden, `the access token is for job ${grant.jobId}`);
            return;
          }
          ctx.monitor.watch(socket, jobId, since);
        });
      },
    });

    app.post<{ Params: Static<typeof JobIdParams>; Body: Static<typeof TokenBody> | undefined }>(
      `${API_PREFIX}/jobs/:id/monitor-token`,
      {
        schema: {
          summary: 'A link for watching one job on the monitor',
          description:
            'An access token that lets its bearer watch this job, and no other, on the ' +
            'monitor (inside the broker or a standalone `switchyard monitor`) until it ' +
            'expires; for handing to a browser.',
          tags: ['monitor'],
          operationId: 'createMonitorToken',
          params: JobIdParams,
          body: Type.Optional(TokenBody),
          response: { 201: MonitorToken, ...errorResponses([404, 503]) },
        },
      },
      async (request, reply) => {
        const id = Number(request.params.id);
        if (!(await ctx.store.jobGet(id))) throw notFound('job', String(id));
        const ttl = request.body?.ttl ?? 3600;
        const expires = Math.floor(ctx.clock.now() / 1000 + ttl) * 1000;
        const token = ctx.access.issue(id, expires);
        return reply.status(201).send({
          token,
          expiresAt: new Date(expires).toISOString(),
          path: `${API_PREFIX}/monitor?job=${id}&access=${token}`,
        });
      },
    );
  };
}
