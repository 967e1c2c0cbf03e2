import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import { FleetSeal } from './fleet-seal.js';

/**
 * The fleet's key: `fleet.secret` when configured; else derived from the API tokens (the nodes of a
 * fleet share them, as for viewer tokens); else a random key of this process — right for a node on
 * its own embedded nats-server, and a node of a cluster that then can neither reach nor take over
 * other nodes' sessions (said at start).
 */
export function fleetSealFor(config: Config, log: FastifyBaseLogger): FleetSeal {
  if (config.fleet.secret) return new FleetSeal(config.fleet.secret);
  const tokens = [config.apiToken, ...config.auth.tokens.map((t) => t.token)].filter(Boolean).sort();
  if (tokens.length > 0) return new FleetSeal(`castpool-api-tokens\n${tokens.join('\n')}`);
  if (config.nats.url)
    log.warn(
      'no fleet secret (fleet.secret, CASTPOOL_FLEET_SECRET) and no API tokens: this node seals its registry with a key of its own and cannot reach or take over other nodes',
    );
  return FleetSeal.ephemeral();
}
