/**
 * The clients' HTTP server: the REST API under /api/v1 (JSON, schema-validated, one error
 * shape), /healthz, and the OpenAPI document generated from the same schemas.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { SwitchyardError } from '../domain/errors.js';
import { API_PREFIX, ErrorBody, JobBody, SubmitJob } from '../protocol/api.js';
import { bearer, tokenIn } from '../broker/auth.js';
import { errorHandler } from './errors.js';
import { eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import type { ApiContext } from './context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Only admin tokens may call this route. */
    admin?: boolean;
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

  // Bodies are checked strictly (an unknown or mistyped field is a 400 that names it); query
  // strings and path parameters arrive as text and are coerced.
  const bodyAjv = makeAjv({ coerceTypes: false });
  const textAjv = makeAjv({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema),
  );

  // An empty body with a JSON content type (a bodyless POST from many clients) is no body.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    defaultJson(req, body as string, done);
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
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith(API_PREFIX)) return;
    const admin = request.routeOptions.config.admin === true;
    if (!authOn) return;
    const token = bearer(request.headers.authorization);
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
  app.addSchema(JobBody);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchyard',
        version: ctx.version,
        description:
          'A job broker: clients submit jobs over this API; workers connect over WebSocket and run them.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: authOn ? [{ bearer: [] }] : [],
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  });

  await app.register(jobRoutes(ctx));
  await app.register(systemRoutes(ctx));
  await app.register(eventRoutes(ctx));
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
