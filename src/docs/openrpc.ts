import { FAULTS, type FaultCode } from '../rpc/faults.js';
import type { CompiledMethod, MethodDefinition } from '../rpc/registry.js';
import { packageVersion } from '../version.js';
import { schemaStore } from '../rpc/schemas.js';
import { bundledComponents, bundledSchema, rewriteRefs } from './bundle.js';
import { accessText } from './access.js';
import { faultComponents, faultDataRef, methodFaults } from './faults.js';

/**
 * A fault as an OpenRPC error: `data` is the value every such error carries at least
 * (OpenRPC's Error Object holds a value, not a schema), and `x-data-schema` the
 * schema of the whole `data` member, detail fields included.
 */
const rpcErrorObject = (code: FaultCode) => ({
  code: FAULTS[code].rpc,
  message: FAULTS[code].message,
  data: { faultcode: code },
  'x-data-schema': faultDataRef(code),
});

/** The OpenRPC 1.3 document of the registry (`rpc.discover`, `GET /openrpc.json`). */
export function buildOpenRpc(methods: Array<MethodDefinition | CompiledMethod>, publicUrl: string) {
  const used = new Set(methods.flatMap(methodFaults));
  return {
    openrpc: '1.3.2',
    info: {
      title: 'billing-auth',
      version: packageVersion,
      description:
        'JSON-RPC 2.0 at POST /rpc. Methods are named Service/method; params are by name. Authenticate with `Authorization: Bearer <access_token>`. ' +
        "A trusted portal server adds `X-Portal-Client: <portal_client_id>:<secret>` and may then name its end user's IP in `X-End-User-IP`. " +
        'Every error carries `data.faultcode` and the detail fields of that fault code: `x-data-schema` of each error is the schema of its `data`.',
    },
    servers: [{ name: 'billing-auth', url: `${publicUrl}/rpc` }],
    methods: methods.map((m) => {
      const { schema: params, baseId } = schemaStore().resolve(m.params);
      const properties = (params.properties ?? {}) as Record<string, unknown>;
      const required = new Set((params.required as string[] | undefined) ?? []);
      return {
        name: m.name,
        summary: m.summary,
        description: [m.description, accessText(m.access)].filter(Boolean).join('\n\n'),
        paramStructure: 'by-name',
        params: Object.entries(properties).map(([name, schema]) => ({
          name,
          required: required.has(name),
          schema: rewriteRefs(schema, baseId),
        })),
        result: { name: 'result', schema: bundledSchema(m.result) },
        errors: methodFaults(m).map((code) => ({ $ref: `#/components/errors/${code}` })),
      };
    }),
    components: {
      errors: Object.fromEntries([...used].map((code) => [code, rpcErrorObject(code)])),
      schemas: { ...faultComponents(), ...bundledComponents() },
    },
  };
}
