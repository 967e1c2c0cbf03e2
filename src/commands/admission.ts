import { CastpoolError } from '../errors.js';
import {
  type AdmissionRefusal,
  activeSessionCount,
  admissionRefusal,
  type PoolContext,
  type WatchRefusal,
} from '../machines/pool.machine.js';

/** The client-facing error for the pool's refusal (the same decision its `hasCapacity` guard makes). */
export function admissionError(refusal: AdmissionRefusal): CastpoolError {
  switch (refusal.reason) {
    case 'shutting-down':
      return new CastpoolError('unavailable', 'castpool is shutting down', { retryable: true });
    case 'degraded':
      return new CastpoolError(
        'unavailable',
        `degraded: ${refusal.failures} browser launches failed recently (last: ${refusal.lastFailure}); running sessions continue`,
        { retryable: true, retryAfterSeconds: 30 },
      );
    case 'full':
      return new CastpoolError(
        'capacity',
        `at capacity: ${refusal.maxSessions} sessions are live on this node`,
        {
          retryable: true,
          retryAfterSeconds: 5,
        },
      );
  }
}

/** The client-facing error for a watcher the host's CPU cannot serve now. */
export function watchError(refusal: WatchRefusal): CastpoolError {
  const still = 'viewers of a watched session are still taken';
  switch (refusal.reason) {
    case 'saturated':
      return new CastpoolError(
        'host_saturated',
        `host saturated: its capture budget (${refusal.totalFps} frames/s) cannot give another watched session ${refusal.minSessionFps} frames/s beside the ${refusal.watched} watched now; ${still}`,
        { retryable: true, retryAfterSeconds: 5 },
      );
    case 'hot':
      return new CastpoolError(
        'host_saturated',
        `host saturated: its CPU is at ${Math.round(refusal.cpu * 100)} % and its ${refusal.watched} watched sessions get ${refusal.deliveredFps} frames/s in all: one more would leave each under ${refusal.admitFps} frames/s (a saturated host shares unevenly, and none may fall under ${refusal.minSessionFps}); ${still}`,
        { retryable: true, retryAfterSeconds: 5 },
      );
    case 'warming':
      return new CastpoolError(
        'host_saturated',
        `host busy starting captures: ${refusal.warming} sessions began being watched in the last seconds and are not measured yet; try again shortly (${still})`,
        { retryable: true, retryAfterSeconds: 2 },
      );
  }
}

export interface Capacity {
  maxSessions: number;
  active: number;
  /** Sessions this node would admit now (0 while shutting down or degraded). */
  available: number;
  /** Host CPU (0–1 of all cores) as the capture budget last saw it. */
  cpu: number;
}

/** This node's admission numbers: what leases advertise, placement compares and `/api/info` shows. */
export function capacityOf(context: PoolContext): Capacity {
  const refused = admissionRefusal(context);
  const active = activeSessionCount(context);
  const open = !refused || refused.reason === 'full';
  return {
    maxSessions: context.maxSessions,
    active,
    available: open ? Math.max(0, context.maxSessions - active) : 0,
    cpu: context.budget.cpu,
  };
}
