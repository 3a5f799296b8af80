/**
 * The client API's OpenAPI 3.0.3 document, built by @fastify/swagger from the routes' schemas
 * (the same schemas that validate requests and serialize answers). Added here is what those
 * schemas do not say: the error answers every route shares (bad input, a body too large or not
 * JSON, a missing or refused token) and the security of each operation; taken out is what
 * OpenAPI 3.0 has no word for (our `errorMessage` keyword, a numeric `exclusiveMinimum`). The
 * document is built per broker: whether it asks for a token depends on its configuration.
 */
import type { FastifyContextConfig, FastifySchema, RouteOptions } from 'fastify';
import type { SwaggerOptions } from '@fastify/swagger';
import { Type, type TSchema } from '@sinclair/typebox';
import type { ErrorCode, errorCodes } from '../domain/errors.js';

/**
 * The statuses of the error answers (domain/errors.ts), each with `components.schemas.Error` as
 * its body. Not `internal` (500): no input a client can send should yield one.
 */
export type ErrorStatus = Exclude<(typeof errorCodes)[ErrorCode], 500>;

/** What each status means in general; a route may say more precisely what it means there. */
const errorMeanings: Record<ErrorStatus, string> = {
  400: '`invalid_request`: bad input; the message names the field',
  401: '`unauthorized`: no `Authorization: Bearer <token>` header',
  403: '`forbidden`: the token may not use the client API',
  404: '`not_found`: no job with this id',
  409: '`conflict`: the job has already ended',
  413: '`payload_too_large`: the body is larger than the broker accepts',
  415: '`unsupported_media_type`: a body that is not `application/json`',
  426: '`upgrade_required`: a WebSocket route asked for with a plain request',
  422:
    '`unmatchable`: no connected worker could run the job (only when the broker is set to ' +
    '`reject_unmatchable`); `details` has its requirements',
  503:
    '`store_unavailable`: the store cannot read or write (a full disk, a database that is ' +
    'down); `details.fault` names the fault and Retry-After says when to ask again',
};

const retryAfter = {
  'Retry-After': Type.Integer({
    description: 'With `store_unavailable`: seconds to wait before asking again',
  }),
};

/**
 * The error answers of a route, from the statuses its handler can give (the ones every route
 * shares are added to the document by `describeRoute`). `meanings` overrides the general
 * description of a status where the route means something more precise by it.
 */
export function errorResponses(
  statuses: readonly ErrorStatus[],
  meanings: Partial<Record<ErrorStatus, string>> = {},
): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {};
  for (const status of statuses) {
    const description = meanings[status] ?? errorMeanings[status];
    responses[status] = Type.Ref('Error', {
      description,
      ...(status === 503 ? { headers: retryAfter } : {}),
    });
  }
  return responses;
}

/** `schema` as the body of a response, with the description OpenAPI requires of each one. */
export function responseBody<T extends TSchema>(description: string, schema: T): T {
  return { ...schema, description };
}

/** Methods whose requests may carry a body, which the broker parses (JSON only). */
const bodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error answers of a route that come from outside its handler: the validation of its input,
 * the parsing of a body, and the token check of server.ts (or, without tokens, its check of the
 * Host header, which no route escapes).
 */
function sharedErrors(
  route: Pick<RouteOptions, 'method' | 'schema' | 'config'>,
  authOn: boolean,
): Partial<Record<ErrorStatus, string>> {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const takesBody = methods.some((m) => bodyMethods.has(m.toUpperCase()));
  const schema = route.schema ?? {};
  const errors: Partial<Record<ErrorStatus, string>> = {};
  if (takesBody || schema.params || schema.querystring || schema.body) {
    errors[400] = takesBody
      ? `${errorMeanings[400]}, or a body that is not valid JSON or nests too deep`
      : errorMeanings[400];
  }
  if (takesBody) {
    errors[413] = errorMeanings[413];
    errors[415] = errorMeanings[415];
  }
  const isPublic = (route.config as FastifyContextConfig | undefined)?.public === true;
  if (!authOn) {
    errors[403] =
      '`forbidden`: a Host header this broker does not answer to (without tokens it answers ' +
      'only to loopback names and those in `clients.allowed_hosts`)';
  } else if (!isPublic) {
    errors[401] = errorMeanings[401];
    errors[403] = errorMeanings[403];
  }
  return errors;
}

/** The route's schema as the document shows it: with its shared errors and its security. */
function describeRoute(route: RouteOptions, authOn: boolean): FastifySchema {
  const schema = route.schema ?? {};
  const meanings = sharedErrors(route, authOn);
  const shared = errorResponses(Object.keys(meanings).map(Number) as ErrorStatus[], meanings);
  const isPublic = (route.config as FastifyContextConfig | undefined)?.public === true;
  return {
    ...schema,
    // The route's own description of a status wins over the shared one.
    response: { ...shared, ...(schema.response as Record<string, unknown> | undefined) },
    // A public route may say which tokens it takes all the same (the monitor: one, or none).
    ...(authOn && isPublic && schema.security === undefined ? { security: [] } : {}),
  };
}

type Json = Record<string, unknown>;
const isJson = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A JSON Schema as an OpenAPI 3.0 Schema Object (@fastify/swagger already turns `type: 'null'`
 * unions into `nullable`, `const` into `enum` and `patternProperties` into
 * `additionalProperties`): without our `errorMessage` keyword, which only our validation reads
 * (api/errors.ts), and with a numeric `exclusiveMinimum`/`exclusiveMaximum` (JSON Schema since
 * draft 6) in the boolean form of 3.0, next to `minimum`/`maximum`.
 */
export function schemaObject30(schema: unknown): unknown {
  if (!isJson(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'errorMessage') continue;
    if (key === 'properties' && isJson(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, s]) => [name, schemaObject30(s)]),
      );
    } else if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map(schemaObject30);
    } else if (key === 'items' || key === 'additionalProperties' || key === 'not') {
      out[key] = schemaObject30(value);
    } else {
      out[key] = value;
    }
  }
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    const limit = out[exclusive];
    if (typeof limit !== 'number') continue;
    const other = out[bound];
    const tighter =
      typeof other !== 'number' || (bound === 'minimum' ? limit >= other : limit <= other);
    if (tighter) {
      out[bound] = limit;
      out[exclusive] = true;
    } else {
      delete out[exclusive];
    }
  }
  return out;
}

/**
 * The document with each of its Schema Objects through `schemaObject30`: those of
 * `components.schemas`, and under paths the `schema` of every parameter, media type and header
 * (examples, free-form JSON, are left as they are).
 */
function documentObject30(document: Json): Json {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isJson(node)) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [
        key,
        key === 'schema' ? schemaObject30(value) : key.startsWith('example') ? value : walk(value),
      ]),
    );
  };
  const components = isJson(document.components) ? document.components : {};
  const schemas = isJson(components.schemas) ? components.schemas : {};
  return {
    ...document,
    components: {
      ...components,
      schemas: Object.fromEntries(
        Object.entries(schemas).map(([name, schema]) => [name, schemaObject30(schema)]),
      ),
    },
    paths: walk(document.paths),
  };
}

/** The options of @fastify/swagger for this broker's document. */
export function openapiOptions(options: { version: string; authOn: boolean }): SwaggerOptions {
  const { version, authOn } = options;
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchyard',
        version,
        description:
          'A job broker: clients submit jobs over this API; workers connect over WebSocket and ' +
          'run them. Every error is `{error: {code, message, details?}}` (`Error`).',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: authOn ? [{ bearer: [] }] : [],
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    transform: ({ route, url }) => ({ schema: describeRoute(route, authOn), url }),
    transformObject: (documentObject) =>
      'openapiObject' in documentObject
        ? documentObject30(documentObject.openapiObject as Json)
        : documentObject.swaggerObject,
  };
}
