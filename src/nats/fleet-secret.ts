import type { FastifyBaseLogger } from 'fastify';
import { fleetKeyMaterial } from '../access/fleet-key.js';
import type { Config } from '../config.js';
import { FleetSeal } from './fleet-seal.js';

/** The fleet's key when the configuration gives one its nodes share (a secret, or API tokens). */
export function sharedFleetSeal(config: Config): FleetSeal | undefined {
  const material = fleetKeyMaterial(config);
  return material === undefined ? undefined : new FleetSeal(material);
}

/**
 * The fleet's key: `fleet.secret` when configured; else derived from the API tokens (the nodes of a
 * fleet share them, as for viewer tokens); else a random key of this process — right for a node on
 * its own embedded nats-server, and a node of a cluster that then can neither reach nor take over
 * other nodes' sessions (said at start).
 */
export function fleetSealFor(config: Config, log: FastifyBaseLogger): FleetSeal {
  const shared = sharedFleetSeal(config);
  if (shared) return shared;
  if (config.nats.url)
    log.warn(
      'no fleet secret (fleet.secret, CASTPOOL_FLEET_SECRET) and no API tokens: this node seals its registry with a key of its own and cannot reach or take over other nodes',
    );
  return FleetSeal.ephemeral();
}
