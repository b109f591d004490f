import { stringify } from 'yaml';
import { FAULTS, type FaultCode } from '../rpc/faults.js';
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
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Fault' } } },
});

/** Faults any method can answer, by the kind of access it needs. */
function transportFaults(m: MethodDefinition): FaultCode[] {
  const codes: FaultCode[] = [
    'Client.Request.parse_error',
    'Client.Request.invalid_params',
    'Client.Request.too_large',
    'Client.Request.unsupported_media_type',
    'Server.Internal.error',
    'Server.Unavailable',
    // Any call may carry a portal client's headers (see rpc/call-origin.ts).
    'Server.Session.portal_client_auth_failed',
    'Client.Request.invalid_end_user_ip',
  ];
  if (m.access.kind !== 'public') {
    codes.push(
      'Client.Session.check_auth.failed_to_process_access_token',
      'Server.Session.check_auth.auth_failed',
      'Server.Session.alert_You_must_change_password',
    );
  }
  if (m.access.kind === 'admin' || (m.access.kind === 'session' && m.access.denyImpersonated)) codes.push('Server.AccessControl.forbidden');
  return codes;
}

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
  for (const code of [...new Set([...transportFaults(m), ...m.faults])]) {
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

const plainGet = (summary: string, contentType: string) => ({
  get: { summary, security: [], responses: { '200': { description: summary, content: { [contentType]: {} } } } },
});

/** The OpenAPI 3.1 document of the registry; `openapi.yaml` is this, committed. */
export function buildOpenApi(methods: MethodDefinition[]): Record<string, unknown> {
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
    servers: [{ url: 'http://127.0.0.1:3000' }],
    security: [{ bearer: [] }],
    tags: [...[...new Set(restMethods.map((m) => m.name.split('/')[0]))].sort(), 'PortaBilling'].map((name) => ({ name })),
    paths: {
      '/rpc': {
        post: {
          operationId: 'rpc',
          tags: ['JSON-RPC'],
          summary: 'JSON-RPC 2.0 endpoint: every method below by name, single calls, batches and notifications.',
          description: 'The method list with params and results is in the OpenRPC document (`GET /openrpc.json` or the `rpc.discover` method).',
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
          },
        },
      },
      ...Object.fromEntries(restMethods.map((m) => [`/rest/${m.name}`, restOperation(m)])),
      ...portaBillingPaths(),
      '/health/live': plainGet('Liveness: the process answers.', 'application/json'),
      '/health/ready': {
        get: {
          summary: 'Readiness: the database answers and takes writes (503 when it does not: down, read-only, a Galera node outside the Primary component).',
          security: [],
          responses: { '200': { description: 'Ready' }, '503': { description: 'The database cannot take writes' } },
        },
      },
      '/openapi.yaml': plainGet('This document.', 'application/yaml'),
      '/openrpc.json': plainGet('The OpenRPC document of the JSON-RPC methods.', 'application/json'),
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      parameters: portalHeaderParameters,
      schemas: {
        Fault: {
          type: 'object',
          required: ['faultcode', 'faultstring'],
          properties: {
            faultcode: { $ref: '#/components/schemas/FaultCode' },
            faultstring: { type: 'string' },
          },
          additionalProperties: true,
        },
        FaultCode: {
          type: 'string',
          enum: Object.keys(FAULTS),
          description: Object.entries(FAULTS)
            .map(([code, f]) => `- \`${code}\`: HTTP ${f.http}, JSON-RPC ${f.rpc}. ${f.message}`)
            .join('\n'),
        },
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
                data: { type: 'object', properties: { faultcode: { $ref: '#/components/schemas/FaultCode' } } },
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

export function openApiYaml(methods: MethodDefinition[]): string {
  return stringify(buildOpenApi(methods), { lineWidth: 0 });
}
