import type { Config } from '../config.js';

/**
 * What the fleet's key is derived from when the configuration gives one its nodes share:
 * `fleet.secret`, else the API tokens (every node of a fleet has them). Undefined: no shared key
 * (a node alone makes a key of its own; saved contexts stay on its disk).
 */
export function fleetKeyMaterial(config: Config): string | undefined {
  if (config.fleet.secret) return config.fleet.secret;
  const tokens = [config.apiToken, ...config.auth.tokens.map((t) => t.token)].filter(Boolean).sort();
  return tokens.length > 0 ? `castpool-api-tokens\n${tokens.join('\n')}` : undefined;
}
