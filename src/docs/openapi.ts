import { stringify } from 'yaml';
import { FAULTS, type FaultCode } from '../rpc/faults.js';
import { anyFault, faultComponents, faultDataRef, methodFaults } from './faults.js';
import type { MethodDefinition } from '../rpc/registry.js';
import { configSchema } from '../config/schema.js';
import { packageVersion } from '../version.js';
import { accessText } from './access.js';
import { bundledComponents, bundledSchema } from './bundle.js';
import { portaBillingComponents, portaBillingPaths } from './portabilling.js';

/** Every 429 fault carries `retry_after`, which REST also sends as `Retry-After` (rpc/errors.ts). */
const retryAfterHeader = () => ({
  'Retry-After': { description: 'Seconds to wait before trying again (the same as `retry_after`).', schema: { type: 'integer', minimum: 1 } },
});

const faultResponse = (status: number, codes: FaultCode[]) => ({
  description: codes.map((c) => `\`${c}\``).join(', '),
  ...(status === 429 ? { headers: retryAfterHeader() } : {}),
  content: { 'application/json': { schema: anyFault(codes) } },
});

/** The headers a trusted portal server adds to any call (README "Trusted portal servers"). */
const PORTAL_HEADERS = [{ $ref: '#/components/parameters/PortalClient' }, { $ref: '#/components/parameters/EndUserIp' }];

const portalHeaderParameters = {
  PortalClient: {
    name: 'X-Portal-Client',
    in: 'header',
    required: false,
    description:
      "`<portal_client_id>:<secret>` of a portal client (PortalClient/add_portal_client or `billing-auth portal-client add`): a portal server's own credential, beside the end user's bearer token. Wrong, unknown or revoked: `Server.Session.portal_client_auth_failed`, and nothing else happens.",
    schema: { type: 'string' },
  },
  EndUserIp: {
    name: 'X-End-User-IP',
    in: 'header',
    required: false,
    description:
      "The end user's IP address, with a valid `X-Portal-Client`: it counts in the per-IP limits, the session and the audit log instead of the caller's. Not exactly one IP address: `Client.Request.invalid_end_user_ip`. Without a portal credential it is ignored (and recorded as ignored on the call's audit rows).",
    schema: { type: 'string' },
  },
};

function restOperation(m: MethodDefinition) {
  const byStatus = new Map<number, FaultCode[]>();
  for (const code of methodFaults(m)) {
    const status = FAULTS[code].http;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const [service] = m.name.split('/');
  return {
    post: {
      operationId: m.name.replace('/', '.'),
      tags: [service],
      summary: m.summary,
      description: [m.description, accessText(m.access)].filter(Boolean).join('\n\n'),
      // An optional token: either no security or the bearer scheme.
      ...(m.access.kind === 'public' ? { security: m.access.session === 'optional' ? [{}, { bearer: [] }] : [] } : {}),
      parameters: PORTAL_HEADERS,
      requestBody: { required: false, content: { 'application/json': { schema: bundledSchema(m.params) } } },
      responses: {
        '200': { description: 'Result', content: { 'application/json': { schema: bundledSchema(m.result) } } },
        ...Object.fromEntries([...byStatus.entries()].sort(([a], [b]) => a - b).map(([status, codes]) => [String(status), faultResponse(status, codes)])),
      },
    },
  };
}

const plainGet = (operationId: string, summary: string, contentType: string) => ({
  get: {
    operationId,
    tags: ['Service'],
    summary,
    description: summary,
    security: [],
    responses: { '200': { description: summary, content: { [contentType]: {} } } },
  },
});

/** A transport-level refusal of `/rpc`: HTTP status of its own, JSON-RPC error object as body (app.ts error handler). */
const rpcRefusal = (code: FaultCode) => ({
  description: `\`${code}\`: ${FAULTS[code].message}.`,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['jsonrpc', 'id', 'error'],
        properties: {
          jsonrpc: { const: '2.0' },
          id: { type: 'null' },
          error: {
            type: 'object',
            required: ['code', 'message', 'data'],
            properties: { code: { const: FAULTS[code].rpc }, message: { type: 'string' }, data: faultDataRef(code) },
          },
        },
      },
    },
  },
});

/** The OpenAPI 3.1 document of the registry; `openapi.yaml` is this, committed. */
export function buildOpenApi(methods: MethodDefinition[], publicUrl: string): Record<string, unknown> {
  const restMethods = methods.filter((m) => m.name.includes('/'));
  return {
    openapi: '3.1.0',
    info: {
      title: 'billing-auth',
      version: packageVersion,
      description:
        'Headless authentication API for billing systems. Every method answers at `POST /rest/<Service>/<method>` ' +
        '(params object as body; faults as HTTP status plus `{faultcode, faultstring}`) and over JSON-RPC 2.0 at `POST /rpc` ' +
        '(application faults as `{code, message, data: {faultcode}}`). PortaBilling API clients call the same methods at ' +
        '`POST /portabilling/<realm>/rest/<Service>/<method>` (envelopes `{"params"}` or `params=&auth_info=`; every fault HTTP 500). Configuration variables: ' +
        Object.keys(configSchema.properties).join(', ') +
        '.',
    },
    servers: [{ url: publicUrl, description: 'PUBLIC_URL (default: the address the service listens on)' }],
    security: [{ bearer: [] }],
    tags: ['JSON-RPC', ...[...new Set(restMethods.map((m) => m.name.split('/')[0]))].sort(), 'PortaBilling', 'Service'].map((name) => ({ name })),
    paths: {
      '/rpc': {
        post: {
          operationId: 'rpc',
          tags: ['JSON-RPC'],
          summary: 'JSON-RPC 2.0 endpoint: every method below by name, single calls, batches and notifications.',
          description:
            'The method list with params and results is in the OpenRPC document (`GET /openrpc.json` or the `rpc.discover` method). ' +
            'Every answer to a call is HTTP 200, faults included (as JSON-RPC error objects whose `data` holds `faultcode` and its details), ' +
            'except a body larger than `BODY_LIMIT` (413) and a body that is not `application/json` (415), answered before any call is read.',
          security: [{ bearer: [] }, {}],
          parameters: PORTAL_HEADERS,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { $ref: '#/components/schemas/JsonRpcRequest' },
                    { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/JsonRpcRequest' } },
                  ],
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'Response, or array of responses for a batch.',
              content: {
                'application/json': {
                  schema: {
                    oneOf: [{ $ref: '#/components/schemas/JsonRpcResponse' }, { type: 'array', items: { $ref: '#/components/schemas/JsonRpcResponse' } }],
                  },
                },
              },
            },
            '204': { description: 'The call was a notification (or a batch of only notifications): no answer.' },
            '413': rpcRefusal('Client.Request.too_large'),
            '415': rpcRefusal('Client.Request.unsupported_media_type'),
          },
        },
      },
      ...Object.fromEntries(restMethods.map((m) => [`/rest/${m.name}`, restOperation(m)])),
      ...portaBillingPaths(),
      '/health/live': plainGet('health_live', 'Liveness: the process answers.', 'application/json'),
      '/health/ready': {
        get: {
          operationId: 'health_ready',
          tags: ['Service'],
          summary: 'Readiness: the database answers and takes writes (503 when it does not: down, read-only, a Galera node outside the Primary component).',
          description: 'Readiness: the database answers and takes writes (503 when it does not: down, read-only, a Galera node outside the Primary component).',
          security: [],
          responses: { '200': { description: 'Ready' }, '503': { description: 'The database cannot take writes' } },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          tags: ['Service'],
          summary: 'Prometheus metrics (text exposition format 0.0.4), when `METRICS=true` and `METRICS_PORT` is unset.',
          description:
            'Prometheus metrics (text exposition format 0.0.4): calls by method and fault with latency histograms, logins by outcome, lockouts, OTP failures, the outbox backlog, the database pool, housekeeping deletions (README, Metrics). ' +
            'Only with `METRICS=true`; with `METRICS_PORT` it is served on that port of `HOST` and not here.',
          security: [],
          responses: {
            '200': { description: 'The metrics of this replica.', content: { 'text/plain': { schema: { type: 'string' } } } },
            '404': { description: 'Metrics are off (`METRICS`), or served on `METRICS_PORT`.' },
          },
        },
      },
      '/openapi.yaml': plainGet('openapi', 'This document.', 'application/yaml'),
      '/openrpc.json': plainGet('openrpc', 'The OpenRPC document of the JSON-RPC methods.', 'application/json'),
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      parameters: portalHeaderParameters,
      schemas: {
        ...faultComponents(),
        JsonRpcRequest: {
          type: 'object',
          required: ['jsonrpc', 'method'],
          properties: {
            jsonrpc: { const: '2.0' },
            method: { type: 'string', examples: ['Session/login'] },
            params: { type: 'object' },
            id: { type: ['string', 'number', 'null'], description: 'Omit for a notification (no answer).' },
          },
        },
        JsonRpcResponse: {
          type: 'object',
          required: ['jsonrpc', 'id'],
          properties: {
            jsonrpc: { const: '2.0' },
            id: { type: ['string', 'number', 'null'] },
            result: {},
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'integer' },
                message: { type: 'string' },
                data: { $ref: '#/components/schemas/FaultData' },
              },
            },
          },
        },
        ...portaBillingComponents(),
        ...bundledComponents(),
      },
    },
  };
}

export function openApiYaml(methods: MethodDefinition[], publicUrl: string): string {
  return stringify(buildOpenApi(methods, publicUrl), { lineWidth: 0 });
}
