import { REALMS } from '../entities/descriptors.js';

const json = (schema: unknown) => ({ schema });

/**
 * The PortaBilling transport in the OpenAPI document: one path for every
 * method (its params and result are those of `/rest/<Service>/<method>`),
 * the two envelopes, and faults as HTTP 500.
 */
export function portaBillingPaths(): Record<string, unknown> {
  return {
    '/portabilling/{realm}/rest/{service}/{method}': {
      post: {
        operationId: 'portabilling',
        tags: ['PortaBilling'],
        summary: 'PortaBilling-compatible API of one realm: every method of `/rest`, as PortaBilling API clients call it.',
        description: [
          'For unmodified PortaBilling API clients configured with the base URL `http://<host>/portabilling/<realm>/rest` ' +
            "(or `http://<host>:<port>/rest` on a `PORTABILLING_PORTS` listener, whose realm is the port's). A trailing slash is accepted.",
          'The realm comes from the path (or port): Session/login takes no `realm`, and a `realm` param that disagrees is refused. ' +
            'Params and results are those of `POST /rest/<Service>/<method>`, with these differences: Session/login and Session/verify_otp ' +
            'answer a `session_id` that is a credential of its own (`<session uuid>.<secret>`, not the uuid Session/get_session_list shows); ' +
            'Session/ping and Session/logout take the credential to check as params (`access_token` or `session_id`), and ping answers ' +
            '`{"user_id": 0}` when it is not valid; Session/refresh_access_token answers no `session_id` (the one the client holds stays valid). ' +
            'Access tokens issued here live `PORTABILLING_ACCESS_TOKEN_TTL` (default 48h), never beyond their session.',
          'Credential, first found of: `access_token`/`session_id` params (ping, logout), `auth_info`, `Authorization: Bearer`. ' +
            '`auth_info` with `login` and `password` opens a session for this one call and ends it after.',
          'Every fault is HTTP 500 with `{faultcode, faultstring}`. A credential that does not authenticate (ended, expired, unknown) is ' +
            '`Server.Session.check_auth.auth_failed`: log in again. Bad envelopes are `Client.Request.parse_error` or `Client.Request.invalid_request`.',
        ].join('\n\n'),
        security: [{ bearer: [] }, {}],
        parameters: [
          { name: 'realm', in: 'path', required: true, schema: { type: 'string', enum: REALMS } },
          { name: 'service', in: 'path', required: true, schema: { type: 'string', examples: ['Session', 'Customer', 'Account'] } },
          { name: 'method', in: 'path', required: true, schema: { type: 'string', examples: ['login', 'get_customer_list'] } },
        ],
        requestBody: {
          required: false,
          content: {
            'application/json': json({ $ref: '#/components/schemas/PortaBillingEnvelope' }),
            'application/x-www-form-urlencoded': json({ $ref: '#/components/schemas/PortaBillingForm' }),
          },
        },
        responses: {
          '200': { description: "The method's result, as at `/rest/<Service>/<method>`.", content: { 'application/json': json({ type: 'object' }) } },
          '500': { description: 'Every fault.', content: { 'application/json': json({ $ref: '#/components/schemas/Fault' }) } },
        },
      },
    },
  };
}

export function portaBillingComponents(): Record<string, unknown> {
  return {
    PortaBillingEnvelope: {
      type: 'object',
      additionalProperties: false,
      properties: {
        params: {
          description: 'The named params of the method; `{}`, `[]` or absent for none.',
          oneOf: [{ type: 'object' }, { type: 'array', maxItems: 0, items: {} }],
        },
        auth_info: { $ref: '#/components/schemas/PortaBillingAuthInfo' },
      },
      examples: [{ params: { login: 'alice', password: 'Secret-1' } }],
    },
    PortaBillingForm: {
      type: 'object',
      additionalProperties: false,
      properties: {
        params: { type: 'string', description: 'The params object as JSON text.' },
        auth_info: { type: 'string', description: 'The PortaBillingAuthInfo object as JSON text.' },
      },
    },
    PortaBillingAuthInfo: {
      description: 'The credential of a call.',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['session_id'], properties: { session_id: { type: 'string' } } },
        { type: 'object', additionalProperties: false, required: ['access_token'], properties: { access_token: { type: 'string' } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['login', 'password'],
          properties: { login: { type: 'string' }, password: { type: 'string' } },
        },
      ],
    },
  };
}
