import type { KvEntry } from '@nats-io/kv';
import { FleetSeal } from '../../src/nats/fleet-seal.js';

/** The fleet secret the NATS suites give castpool, so a test can open the registry's sealed values. */
export const TEST_FLEET_SECRET = 'test-fleet-secret-0123456789abcdef';

const seal = new FleetSeal(TEST_FLEET_SECRET);

/** A registry entry's value as castpool wrote it (sealed for its bucket and key), or undefined. */
export function openEntry<T = Record<string, unknown>>(entry: KvEntry | null | undefined): T | undefined {
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  return seal.open(entry.value, `${entry.bucket}/${entry.key}`) as T | undefined;
}
