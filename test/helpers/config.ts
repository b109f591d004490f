import { ConfigError, loadConfig } from '../../src/config/load.js';

/** What `loadConfig` refuses in `env`, one message per problem; none when it loads. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
