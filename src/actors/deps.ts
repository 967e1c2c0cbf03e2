import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { ProcessTracker } from './processes.js';

/** What effect actors need from the service; supplied once, in src/system.ts. */
export interface ActorDeps {
  config: Config;
  processes: ProcessTracker;
  log: FastifyBaseLogger;
}
