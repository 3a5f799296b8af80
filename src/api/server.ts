/**
 * The clients' HTTP server: the REST API under /api/v1 (JSON, schema-validated, one error
 * shape), /healthz, and the OpenAPI document generated from the same schemas.
 */
import { LimitView, QueueSettingsSchema, QueueView } from '../protocol/queues.js';
import { queueRoutes } from './routes/queues.js';
import Fastify, { LogController, type FastifyContextConfig, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { invalid, SwitchyardError } from '../domain/errors.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, tooDeepAt } from '../protocol/depth.js';
import {
  API_PREFIX,
  ErrorBody,
  JobBody,
  JobFilter,
  JobMessageBody,
  SubmitJob,
} from '../protocol/api.js';
import { eventSchemas } from '../protocol/events.js';
import { ScheduleBody } from '../protocol/schedules.js';
import { bearer, tokenIn } from '../broker/auth.js';
import { hostAllowed } from '../config/exposure.js';
import { errorHandler } from './errors.js';
import { openapiOptions } from './openapi.js';
import { eventRoutes } from './routes/events.js';
import { monitorRoutes } from './routes/monitor.js';
import { actionRoutes } from './routes/actions.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { scheduleRoutes } from './routes/schedules.js';
import { workerRoutes } from './routes/workers.js';
import { systemRoutes } from './routes/system.js';
import type { ApiContext } from './context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Only admin tokens may call this route. */
    admin?: boolean;
    /** Anyone may call this route, token or not (health checks). */
    public?: boolean;
    /**
     * The token may come as `?token=` too: browsers' EventSource and WebSocket cannot send an
     * Authorization header. Only for streams (a URL with a token ends up in histories and logs).
     */
    tokenInQuery?: boolean;
  }
}

/** What a WebSocket reader may send: nothing is expected, so very little is accepted. */
const MAX_CLIENT_MESSAGE_BYTES = 4 * 1024;

/** The host named by an Origin header (`null` for an opaque origin), or undefined if none. */
function originHost(origin: string | undefined): string | null | undefined {
  if (origin === undefined) return undefined;
  try {
    return new URL(origin).host || null;
  } catch {
    return null;
  }
}

function makeAjv(options: AjvOptions): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    useDefaults: true,
    removeAdditional: false,
    verbose: true,
    ...options,
  });
  addFormats.default(ajv);
  ajv.addSchema(SubmitJob);
  ajv.addSchema(JobFilter);
  return ajv;
}

export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: ctx.config.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    ajv: undefined,
  });
  if (ctx.onRoute !== undefined) app.addHook('onRoute', ctx.onRoute);
  // WebSocket upgrades (the event stream, the job monitor), registered before any hook of ours:
  // its own hooks mark an upgrade (request.ws) first and destroy the socket of one refused by a
  // later hook (a missing token), which would otherwise stay open.
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES } });

  // Bodies are checked strictly (an unknown or mistyped field is a 400 that names it); query
  // strings and path parameters arrive as text and are coerced.
  const bodyAjv = makeAjv({ coerceTypes: false });
  const textAjv = makeAjv({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema),
  );

  // An empty body with a JSON content type (a bodyless POST from many clients) is no body. A
  // body nested deeper than MAX_JSON_DEPTH is refused here, naming where, before anything
  // recursive (serializing it, the database's JSON functions) can overflow on it.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  // JSON only: any other body is a 415, which also keeps a web page's simple cross-site POST
  // (text/plain, a form) out.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text === '') {
      done(null, undefined);
      return;
    }
    if (!nestsDeeperThan(text)) {
      defaultJson(req, text, done);
      return;
    }
    defaultJson(req, text, (error, value) => {
      if (error) {
        done(error, undefined);
        return;
      }
      done(
        invalid(`body${tooDeepAt(value) ?? ''}: nested deeper than ${MAX_JSON_DEPTH} levels`),
        undefined,
      );
    });
  });

  app.setErrorHandler(errorHandler(ctx.logger as Logger));
  app.setNotFoundHandler((request, reply) => {
    const err = new SwitchyardError(
      'not_found',
      `no route ${request.method} ${request.url.split('?')[0]}`,
    );
    void reply.status(404).send(err.toJSON());
  });

  const clientTokens = [...ctx.config.auth.clientTokens, ...ctx.config.auth.adminTokens];
  const adminTokens = ctx.config.auth.adminTokens;
  const authOn = clientTokens.length > 0;
  const allowedHosts = ctx.config.clients.allowedHosts;
  // Who may call what is decided by the route the router matched (its config), never by the
  // text of the URL: the router decodes and normalises paths (`/%61pi/...` is `/api/...`), so a
  // check on the raw URL is a check on something else. A request that matches no route needs a
  // token too (and then learns it is a 404), so that no spelling of a path gets around one.
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config as FastifyContextConfig | undefined;
    if (!authOn) {
      // No token protects this broker: only its own machine may talk to it, by a loopback name.
      if (!hostAllowed(request.headers.host, allowedHosts)) {
        throw new SwitchyardError(
          'forbidden',
          `Host "${request.headers.host ?? ''}" is not served: without tokens this broker ` +
            'answers only to loopback names (localhost, 127.0.0.1, [::1]) and the names in ' +
            'clients.allowed_hosts',
        );
      }
      // A WebSocket is not subject to the same-origin policy: any web page the user opens
      // could connect to a loopback broker. A browser names the page's origin; it must be one
      // this broker serves.
      const origin = originHost(request.headers.origin);
      if (request.ws && origin !== undefined && !hostAllowed(origin ?? '', allowedHosts)) {
        throw new SwitchyardError(
          'forbidden',
          `Origin "${request.headers.origin ?? ''}" may not open a WebSocket here: without ` +
            'tokens only pages of the names this broker serves may',
        );
      }
      return;
    }
    if (config?.public === true) return;
    const admin = config?.admin === true;
    const query = request.query as Record<string, unknown> | undefined;
    const token =
      bearer(request.headers.authorization) ??
      (config?.tokenInQuery === true && typeof query?.token === 'string' ? query.token : undefined);
    if (token === undefined) {
      throw new SwitchyardError(
        'unauthorized',
        'an Authorization: Bearer <token> header is required',
      );
    }
    if (!tokenIn(token, admin ? adminTokens : clientTokens)) {
      throw new SwitchyardError(
        'forbidden',
        admin ? 'this action needs an admin token' : 'this token may not use the client API',
      );
    }
  });

  app.addSchema(ErrorBody);
  app.addSchema(SubmitJob);
  app.addSchema(JobFilter);
  app.addSchema(JobBody);
  app.addSchema(JobMessageBody);
  // Shared schemas are added here, at the root: added inside a route plugin, they would give it
  // a schema controller of its own, without the validator compiler above.
  app.addSchema(QueueSettingsSchema);
  app.addSchema(QueueView);
  app.addSchema(LimitView);
  app.addSchema(ScheduleBody);
  for (const [id, schema] of Object.entries(eventSchemas)) app.addSchema({ ...schema, $id: id });

  await app.register(swagger, openapiOptions({ version: ctx.version, authOn }));

  await app.register(jobRoutes(ctx));
  await app.register(actionRoutes(ctx));
  await app.register(systemRoutes(ctx));
  await app.register(scheduleRoutes(ctx));
  await app.register(workerRoutes(ctx));
  await app.register(eventRoutes(ctx));
  await app.register(monitorRoutes(ctx));
  await app.register(metricsRoutes(ctx));
  await app.register(queueRoutes(ctx));
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
