import { FAULTS } from '../rpc/faults.js';
import type { CompiledMethod, MethodDefinition } from '../rpc/registry.js';
import { packageVersion } from '../version.js';
import { schemaStore } from '../rpc/schemas.js';
import { bundledComponents, bundledSchema, rewriteRefs } from './bundle.js';
import { accessText } from './access.js';

/** The OpenRPC 1.3 document of the registry (`rpc.discover`, `GET /openrpc.json`). */
export function buildOpenRpc(methods: Array<MethodDefinition | CompiledMethod>) {
  return {
    openrpc: '1.3.2',
    info: {
      title: 'billing-auth',
      version: packageVersion,
      description:
        'JSON-RPC 2.0 at POST /rpc. Methods are named Service/method; params are by name. Authenticate with `Authorization: Bearer <access_token>`. ' +
        "A trusted portal server adds `X-Portal-Client: <portal_client_id>:<secret>` and may then name its end user's IP in `X-End-User-IP`.",
    },
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
        errors: m.faults.map((code) => ({ code: FAULTS[code].rpc, message: FAULTS[code].message, data: { faultcode: code } })),
      };
    }),
    components: { schemas: bundledComponents() },
  };
}
