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
  const record = schema as Record<string, unknown>;
  // An `$id` (composed method schemas have one) is the base of the refs inside it.
  const base = typeof record.$id === 'string' ? new URL(record.$id, baseId).toString() : baseId;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === '$id' || key === '$schema' || key === 'summary') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? rewriteRef(value, base) : rewriteRefs(value, base);
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
