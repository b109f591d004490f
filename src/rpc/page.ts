/** Paging after validation: the schema defaults (limit 100, offset 0) are applied, so both are present. */
export function page(params: { limit?: number; offset?: number }): { limit: number; offset: number } {
  return { limit: params.limit ?? 100, offset: params.offset ?? 0 };
}
