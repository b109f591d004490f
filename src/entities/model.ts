import { schemaStore, type JsonSchema } from '../rpc/schemas.js';
import type { EntityDescriptor } from './descriptors.js';

/** How a value is stored: booleans as 0/1, arrays as JSON text, instants as epoch milliseconds. */
export type ColumnKind = 'boolean' | 'json' | 'timestamp' | 'plain';

/**
 * An entity as its schema file describes it: which fields a caller may write,
 * which are write-only secrets, and how each info field is stored. Derived
 * from `schemas/entities/<name>.json`, so adding a field there is enough.
 */
export interface EntityModel {
  descriptor: EntityDescriptor;
  schemaName: string;
  schemaId: string;
  /** Writable fields as the schema declares them (refs relative to the schema file). */
  fieldSchemas: Record<string, JsonSchema>;
  /** Writable fields stored as plain columns. */
  columns: string[];
  /** Write-only secrets (passwords): never stored or returned as given. */
  writeOnly: string[];
  /** Info fields and how to turn a row value into each. */
  infoKinds: Record<string, ColumnKind>;
  /** Info fields present only when computed for the call (e.g. passwords read back). */
  infoOptional: Set<string>;
}

function kindOf(schema: JsonSchema, baseId: string): ColumnKind {
  const { schema: resolved } = schemaStore().resolve(schema, baseId);
  const types = ([] as unknown[]).concat(resolved.type ?? []);
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('array') || types.includes('object')) return 'json';
  if (resolved.format === 'date-time') return 'timestamp';
  return 'plain';
}

const models = new Map<string, EntityModel>();

export function entityModel(descriptor: EntityDescriptor): EntityModel {
  const cached = models.get(descriptor.name);
  if (cached) return cached;
  const schemaName = `entities/${descriptor.name}`;
  const file = schemaStore().file(schemaName);
  const defs = file.schema.$defs as Record<string, JsonSchema>;
  const fieldSchemas = (defs.fields?.properties ?? {}) as Record<string, JsonSchema>;
  const infoProps = (defs.info?.properties ?? {}) as Record<string, JsonSchema>;
  const model: EntityModel = {
    descriptor,
    schemaName,
    schemaId: file.id,
    fieldSchemas,
    columns: Object.keys(fieldSchemas).filter((k) => !fieldSchemas[k]?.writeOnly),
    writeOnly: Object.keys(fieldSchemas).filter((k) => fieldSchemas[k]?.writeOnly),
    infoKinds: Object.fromEntries(Object.entries(infoProps).map(([k, s]) => [k, kindOf(s, file.id)])),
    infoOptional: new Set(Object.keys(infoProps).filter((k) => !((defs.info?.required as string[] | undefined) ?? []).includes(k))),
  };
  models.set(descriptor.name, model);
  return model;
}

/** Caller's values → column values (the key column is the caller's to add: see entity/shared.ts `keyColumn`). */
export function toColumns(model: EntityModel, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of model.columns) {
    if (!(column in values)) continue;
    const value = values[column];
    out[column] = model.infoKinds[column] === 'json' && value !== null ? JSON.stringify(value) : value;
  }
  return out;
}

/** A row → the `<entity>_info` object (computed fields are added by the caller). */
export function toInfo(model: EntityModel, row: Record<string, unknown>, computed: Record<string, unknown> = {}): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(model.infoKinds)) {
    if (field in computed) {
      info[field] = computed[field];
      continue;
    }
    if (model.infoOptional.has(field)) continue;
    const value = row[field];
    if (value === undefined || value === null) {
      info[field] = null;
    } else if (kind === 'boolean') {
      info[field] = Boolean(value);
    } else if (kind === 'json') {
      info[field] = typeof value === 'string' ? JSON.parse(value) : value;
    } else if (kind === 'timestamp') {
      info[field] = new Date(Number(value)).toISOString();
    } else {
      info[field] = value;
    }
  }
  return info;
}
