import secureJson from 'secure-json-parse';
import { Fault } from '../faults.js';

/**
 * What the PortaBilling scope's body parsers hand on: the transport answers
 * every problem with its own faults (HTTP 500, `Client.Request.*`), so the
 * parsers only say what they found.
 */
export type RawBody =
  undefined | { kind: 'json'; value: unknown } | { kind: 'form'; text: string } | { kind: 'unparsable' } | { kind: 'unsupported'; contentType: string };

/** The credential an `auth_info` carries. */
export type AuthInfo = { session_id: string } | { access_token: string } | { login: string; password: string };

export interface Envelope {
  params: unknown;
  authInfo: AuthInfo | undefined;
}

/** `__proto__` and `constructor.prototype` keys are refused (prototype poisoning), as on the other transports. */
export function parseJson(text: string): unknown {
  return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
}

const NEITHER =
  'The body must be JSON {"params": {...}, "auth_info": {...}} (application/json) or the form params=<json>&auth_info=<json> (application/x-www-form-urlencoded)';

/**
 * The two envelopes PortaBilling clients send:
 * - JSON: `{"params": {...}}`, optionally with `"auth_info": {...}`;
 * - form: `params=<json>&auth_info=<json>`.
 * Missing params, `{}` and `[]` (PHP's `json_encode` of an empty array) are
 * all "no params". Anything else is refused before any method runs.
 */
export function readEnvelope(body: RawBody): Envelope {
  if (body === undefined) return { params: {}, authInfo: undefined };
  switch (body.kind) {
    case 'unparsable':
      throw new Fault('Client.Request.parse_error');
    case 'unsupported':
      throw new Fault('Client.Request.unsupported_media_type', `Content type ${body.contentType.slice(0, 80)} is not accepted here. ${NEITHER}`);
    case 'json':
      return fromMembers(jsonMembers(body.value), (value) => value);
    case 'form':
      return fromMembers(formMembers(body.text), (value, field) => {
        try {
          return parseJson(String(value));
        } catch {
          throw new Fault('Client.Request.parse_error', `Parse error: the ${field} field is not valid JSON`);
        }
      });
  }
}

function jsonMembers(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Fault('Client.Request.invalid_request', `Invalid Request: ${NEITHER}`);
  return value as Record<string, unknown>;
}

function formMembers(text: string): Record<string, unknown> {
  const members: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of new URLSearchParams(text)) {
    if (name in members) throw new Fault('Client.Request.invalid_request', `Invalid Request: the form field ${name.slice(0, 40)} is given twice`);
    members[name] = value;
  }
  return members;
}

function fromMembers(members: Record<string, unknown>, decode: (value: unknown, field: string) => unknown): Envelope {
  const unknown = Object.keys(members).filter((k) => k !== 'params' && k !== 'auth_info');
  if (unknown.length > 0) throw new Fault('Client.Request.invalid_request', `Invalid Request: unexpected member ${unknown[0]?.slice(0, 40)}. ${NEITHER}`);
  const params = members.params === undefined ? {} : decode(members.params, 'params');
  const authInfo = members.auth_info === undefined ? undefined : credentialOf(decode(members.auth_info, 'auth_info'));
  return { params: Array.isArray(params) && params.length === 0 ? {} : params, authInfo };
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

function credentialOf(value: unknown): AuthInfo {
  const v = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (keys === 'session_id' && isText(v.session_id)) return { session_id: v.session_id };
  if (keys === 'access_token' && isText(v.access_token)) return { access_token: v.access_token };
  if (keys === 'login,password' && isText(v.login) && isText(v.password)) return { login: v.login, password: v.password };
  throw new Fault(
    'Client.Request.invalid_request',
    'Invalid Request: auth_info must be {"session_id": "..."}, {"access_token": "..."} or {"login": "...", "password": "..."}',
  );
}
