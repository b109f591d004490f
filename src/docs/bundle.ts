import { SCHEMA_BASE, schemaStore, type JsonSchema } from '../rpc/schemas.js';

/** `Session/login` → `Session.login`: a valid OpenAPI/OpenRPC component name. */
export const componentName = (fileName: string): string => fileName.replace(/\//g, '.');

/**
 * Turns an absolute or file-relative `$ref` into a pointer inside one bundled
 * document (`#/components/schemas/<file>/$defs/...`), so the docs resolve
 * without fetching anything.
 */
function rewriteRef(ref: string, baseId: string): string {
  const absolute = new URL(ref, baseId).toString();
  const [uri, fragment = ''] = absolute.split('#');
  if (!uri?.startsWith(SCHEMA_BASE)) throw new Error(`cannot bundle $ref ${ref}`);
  const name = componentName(uri.slice(SCHEMA_BASE.length).replace(/\.json$/, ''));
  return `#/components/schemas/${name}${fragment}`;
}

export function rewriteRefs(schema: unknown, baseId: string): unknown {
  if (Array.isArray(schema)) return schema.map((s) => rewriteRefs(s, baseId));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' || key === '$schema' || key === 'summary') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? rewriteRef(value, baseId) : rewriteRefs(value, baseId);
  }
  return out;
}

/** Every schema file as a component, refs rewritten. */
export function bundledComponents(): Record<string, JsonSchema> {
  const components: Record<string, JsonSchema> = {};
  for (const file of schemaStore().files) {
    components[componentName(file.name)] = rewriteRefs(file.schema, file.id) as JsonSchema;
  }
  return components;
}

/** A method's schema (usually `{ $ref }` into a file) as it appears in the bundled document. */
export function bundledSchema(schema: JsonSchema): JsonSchema {
  return rewriteRefs(schema, SCHEMA_BASE) as JsonSchema;
}

/**
 * Follows `$ref`s to the schema object they name (for listing a params
 * object's properties), with the file id its own relative refs resolve against.
 */
export function resolveSchema(schema: JsonSchema): { schema: JsonSchema; baseId: string } {
  let current = schema;
  let baseId = SCHEMA_BASE;
  for (let i = 0; i < 10 && typeof current.$ref === 'string'; i++) {
    const absolute = new URL(current.$ref, baseId).toString();
    const target = schemaStore().ajv.getSchema(absolute)?.schema;
    if (!target || typeof target !== 'object') break;
    baseId = absolute.split('#')[0] as string;
    current = target as JsonSchema;
  }
  return { schema: current, baseId };
}
