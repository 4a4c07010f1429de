// The OpenAPI and AsyncAPI documents, generated from the route files' descriptions and the valibot schemas.
import { type ConversionConfig, type JsonSchema, toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { EVENT_DATA, NAMED_SCHEMAS } from '../domain/entities.js';
import type { EventName } from '../domain/events.js';
import { DOCUMENTED_AS, REQUIRED_FIELDS } from '../domain/requests.js';
import { PACKAGE_INFO } from '../package-root.js';
import type { RouteDoc, RouteFile } from './route-table.js';

export type { RouteDoc };

const pkg = PACKAGE_INFO;

type Json = Record<string, any>;
type Entry = v.GenericSchema & { type: string; wrapped?: v.GenericSchema; default?: unknown };

/** valibot → JSON Schema, with the named entities as `$ref`s to `#/components/schemas/<name>`. */
function converter(target: ConversionConfig['target']) {
  const config: ConversionConfig = {
    target,
    typeMode: 'input',
    errorMode: 'ignore',
    definitions: NAMED_SCHEMAS,
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
    overrideSchema: ({ valibotSchema, jsonSchema }) => {
      const entries = (valibotSchema as { entries?: Record<string, Entry> }).entries;
      if (!entries || jsonSchema.type !== 'object') return undefined;
      // Fields whose schemas convert poorly (domain/requests.ts marks them), and required fields that start as nullish.
      for (const [key, entry] of Object.entries(entries)) {
        const inner = entry.wrapped && DOCUMENTED_AS.has(entry.wrapped) ? entry.wrapped : undefined;
        const as = DOCUMENTED_AS.get(entry) ?? (inner && DOCUMENTED_AS.get(inner));
        if (as) {
          const property = convert(as);
          if (inner && entry.default !== undefined && typeof entry.default !== 'function') property.default = entry.default;
          jsonSchema.properties![key] = property;
        }
        if (REQUIRED_FIELDS.has(entry) && !jsonSchema.required?.includes(key)) (jsonSchema.required ??= []).push(key);
      }
      if (jsonSchema.required?.length === 0) delete jsonSchema.required;
      return jsonSchema;
    },
  };
  const convert = (schema: v.GenericSchema): Json => {
    const { $schema: _, $defs: __, ...rest } = toJsonSchema(DOCUMENTED_AS.get(schema) ?? schema, config) as Json;
    return rest;
  };
  const components = () => {
    const { $defs } = toJsonSchema(NAMED_SCHEMAS.Error, config) as Json;
    return $defs as Record<string, JsonSchema>;
  };
  return { convert, components };
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/**
 * An absent or empty body is read as `{}` (http/input.ts), so a body may be left out only when none of its fields is
 * required: otherwise that request is refused (400 VALIDATION_ERROR), and the description says the body is required.
 */
function requestBody(schema: Json, schemas: Record<string, JsonSchema>): Json {
  const shape = (typeof schema.$ref === 'string' ? schemas[schema.$ref.split('/').pop()!] : schema) as Json | undefined;
  return { requestBody: { required: Boolean(shape?.required?.length), content: { 'application/json': { schema } } } };
}

/** `/api/tasks/:id` → `/api/tasks/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

const documents = new WeakMap<readonly RouteFile[], Json>();

/** The OpenAPI 3.1 document of every route that describes itself (routes without `describe` are left out). */
export function openApiDocument(routes: readonly RouteFile[]): Json {
  let document = documents.get(routes);
  if (!document) documents.set(routes, (document = buildOpenApi(routes)));
  return document;
}

let asyncApi: Json | undefined;
/** The AsyncAPI 3.0 document of the events sent on the WebSocket (and any other event stream): envelope and data. */
export const asyncApiDocument = () => (asyncApi ??= buildAsyncApi());

function buildOpenApi(routes: readonly RouteFile[]): Json {
  const { convert, components } = converter('draft-2020-12');
  const schemas = components();
  const paths: Json = {};
  for (const route of routes) {
    const doc = route.doc;
    if (!doc) continue;
    const parameters: Json[] = [...route.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (doc.query) {
      const query = convert(doc.query);
      for (const [name, schema] of Object.entries<Json>(query.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
      }
    }
    const status = doc.status ?? 200;
    const responseSchema = (r: v.GenericSchema | [v.GenericSchema]) =>
      Array.isArray(r) ? { type: 'array', items: convert(r[0]) } : convert(r);
    const operation: Json = {
      operationId: `${route.method}${route.path.replace(/[/:.-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: doc.summary,
      ...(doc.description && { description: doc.description }),
      tags: [doc.tag ?? route.path.split('/')[route.path.startsWith('/api/') ? 2 : 1] ?? 'server'],
      ...(parameters.length && { parameters }),
      ...(doc.body && requestBody(convert(doc.body), schemas)),
      responses: {
        [status]: {
          description: status === 201 ? 'Created' : status === 204 ? 'No Content' : 'OK',
          ...(doc.response && { content: { 'application/json': { schema: responseSchema(doc.response) } } }),
        },
        ...Object.fromEntries(Object.entries(doc.errors ?? {}).map(([code, text]) => [code, errorResponse(text)])),
        default: errorResponse('An error (contract §1.4, codes in §1.6)'),
      },
    };
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Maestro Server',
      version: pkg.version,
      description: `${pkg.description}. Live events: see /api/asyncapi.json.`,
    },
    servers: [{ url: '/' }],
    security: [{}, { bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: "MAESTRO_TOKEN, a person's token (POST /api/tokens), or a session token; required when the server has a token",
        },
      },
    },
  };
}

function buildAsyncApi(): Json {
  const { convert, components } = converter('draft-07');
  const messages: Json = {};
  // A new event does not compile until entities.ts describes its data.
  for (const [type, data] of Object.entries(EVENT_DATA satisfies Record<EventName, v.GenericSchema>)) {
    messages[type.replace(':', '.')] = {
      name: type,
      payload: {
        allOf: [
          { $ref: '#/components/schemas/Envelope' },
          { type: 'object', properties: { type: { const: type }, event: { const: type }, data: convert(data) } },
        ],
      },
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Maestro Server events',
      version: pkg.version,
      description:
        'Every change is broadcast as one JSON envelope per WebSocket text frame (contract §4), and logged (§17). Connect ' +
        'with an HTTP upgrade on any path of the server, with ?token= when MAESTRO_TOKEN is set; ?since=<seq> replays ' +
        'the logged events after it first (or sends {"type":"resync","oldestSeq","latestSeq"} when the log no longer ' +
        "holds them), ?projectId= keeps one project's events (and global ones), ?sessionId=&messages=only one " +
        "session's messages. The same stream is served as Server-Sent Events at /api/events/stream.",
    },
    channels: {
      events: {
        address: '/',
        title: 'WebSocket event stream',
        messages: Object.fromEntries(Object.keys(messages).map((k) => [k, { $ref: `#/components/messages/${k}` }])),
      },
    },
    operations: {
      receiveEvents: { action: 'receive', channel: { $ref: '#/channels/events' }, summary: 'Events, in seq order' },
    },
    components: {
      schemas: {
        ...components(),
        Envelope: {
          type: 'object',
          required: ['type', 'event', 'data', 'timestamp', 'seq'],
          properties: {
            type: { type: 'string', enum: Object.keys(EVENT_DATA) },
            event: { type: 'string', description: 'The same as type (older clients read this key)' },
            data: { description: 'Depends on type: see each message' },
            timestamp: { type: 'integer', description: 'Milliseconds since the Unix epoch' },
            seq: {
              type: 'integer',
              description: "The event's position in the log: increases by one per event and continues across restarts",
            },
            projectId: { type: 'string', description: 'The project the event concerns, when it concerns one' },
            actor: {
              type: 'object',
              description:
                "Who did it (contract §23): admin, user (a person's token: id, name), session (id, name), runner (name: its host), system",
              required: ['kind'],
              properties: {
                kind: { type: 'string', enum: ['admin', 'user', 'session', 'runner', 'system'] },
                id: { type: 'string' },
                name: { type: 'string' },
              },
            },
          },
        },
      },
      messages,
    },
  };
}
