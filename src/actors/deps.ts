import type { FastifyBaseLogger } from 'fastify';
import type { UrlPolicy } from '../access/url-policy.js';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import type { CpuGroups } from '../processes/cpu-groups.js';
import type { Gpu } from '../processes/gpu.js';
import type { ProcessTracker } from '../processes/tracker.js';
import type { BrowserUser } from './browser-user.js';

/** What effect actors need from the service; supplied once, in src/system.ts. */
export interface ActorDeps {
  config: Config;
  processes: ProcessTracker;
  /** The browsers' CPU groups (cgroup v1), or a no-op where the host does not allow them. */
  cpuGroups: CpuGroups;
  log: FastifyBaseLogger;
  /** Where pages may go: their document requests (redirects included) are checked against it. */
  urls: UrlPolicy;
  metrics: Metrics;
  /** Who Chromium runs as and whether its sandbox is on (decided once at start; a failed sandbox turns it off). */
  browserUser: BrowserUser;
  /** The host's GPU as castpool uses it (found once at start). */
  gpu: Gpu;
}
