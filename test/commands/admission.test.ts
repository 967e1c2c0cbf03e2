import { describe, expect, it } from 'vitest';
import { admissionError, capacityOf, watchError } from '../../src/commands/admission.js';
import { ViewerReservations } from '../../src/commands/viewer-reservations.js';
import type { PoolActorRef } from '../../src/machines/pool.machine.js';
import { admissionRefusal, type PoolContext } from '../../src/machines/pool.machine.js';

/** A pool context with `active` live sessions (fake refs: only their snapshot's tags are read). */
function context(overrides: Partial<PoolContext> & { active?: number } = {}): PoolContext {
  const { active = 0, ...rest } = overrides;
  const sessions = Object.fromEntries(
    Array.from({ length: active }, (_, i) => [
      `s${i}`,
      { hostId: 'host-1', ref: { getSnapshot: () => ({ status: 'active', hasTag: () => false }) } },
    ]),
  );
  return {
    maxSessions: 2,
    sessionsPerBrowser: 4,
    sessions,
    hosts: {},
    hostSeq: 0,
    shuttingDown: false,
    launchFailures: [],
    degrade: { failures: 2, windowMs: 60_000 },
    budget: { cpu: 0.25, cpuLimitFps: null },
    shares: {},
    ...rest,
  } as unknown as PoolContext;
}

describe('admission: one decision for the pool guard, the error text and the advertised capacity', () => {
  it('admits while there is room', () => {
    expect(admissionRefusal(context({ active: 1 }))).toBeUndefined();
    expect(capacityOf(context({ active: 1 }))).toEqual({
      maxSessions: 2,
      active: 1,
      available: 1,
      cpu: 0.25,
    });
  });

  it('is full at maxSessions: 429 with Retry-After', () => {
    const refusal = admissionRefusal(context({ active: 2 }));
    expect(refusal).toEqual({ reason: 'full', maxSessions: 2 });
    const error = admissionError(refusal as NonNullable<typeof refusal>);
    expect([error.status, error.options.retryAfterSeconds]).toEqual([429, 5]);
    expect(error.message).toMatch(/at capacity: 2 sessions/);
    expect(capacityOf(context({ active: 2 })).available).toBe(0);
  });

  it('advertises no room while shutting down or degraded, as the guard refuses (503)', () => {
    const failures = [
      { at: Date.now(), reason: 'chromium not found' },
      { at: Date.now(), reason: 'chromium not found' },
    ];
    for (const [ctx, reason, text] of [
      [context({ shuttingDown: true }), 'shutting-down', /shutting down/],
      [
        context({ launchFailures: failures }),
        'degraded',
        /degraded: 2 browser launches failed.*chromium not found/,
      ],
    ] as const) {
      const refusal = admissionRefusal(ctx);
      expect(refusal?.reason).toBe(reason);
      const error = admissionError(refusal as NonNullable<typeof refusal>);
      expect(error.status).toBe(503);
      expect(error.message).toMatch(text);
      expect(capacityOf(ctx).available).toBe(0);
    }
  });

  it('forgets launch failures older than the degrade window', () => {
    const old = Date.now() - 120_000;
    const ctx = context({
      launchFailures: [
        { at: old, reason: 'x' },
        { at: old, reason: 'y' },
      ],
    });
    expect(admissionRefusal(ctx)).toBeUndefined();
    expect(capacityOf(ctx).available).toBe(2);
  });

  it('words each refusal of a first viewer as 503 host_saturated, with a shorter Retry-After while captures warm up', () => {
    const cases = [
      [
        { reason: 'saturated', totalFps: 10, watched: 2, minSessionFps: 5 },
        5,
        /capture budget \(10 frames\/s\) cannot give another watched session 5 frames\/s beside the 2/,
      ],
      [
        { reason: 'hot', cpu: 0.966, watched: 3, deliveredFps: 14, minSessionFps: 5, admitFps: 10 },
        5,
        /CPU is at 97 % and its 3 watched sessions get 14 frames\/s in all: one more would leave each under 10 frames\/s \(a saturated host shares unevenly, and none may fall under 5\)/,
      ],
      [{ reason: 'warming', warming: 2 }, 2, /2 sessions began being watched in the last seconds/],
    ] as const;
    for (const [refusal, retryAfter, text] of cases) {
      const error = watchError(refusal);
      expect([error.status, error.code, error.options.retryAfterSeconds]).toEqual([
        503,
        'host_saturated',
        retryAfter,
      ]);
      expect(error.message).toMatch(text);
      expect(error.message).toMatch(/viewers of a watched session are still taken/);
    }
  });
});

describe('viewer reservations', () => {
  const pool = { getSnapshot: () => ({ context: { sessions: {} } }) } as unknown as PoolActorRef;

  it('count the sessions whose first viewer negotiates now, until each negotiation ends', () => {
    const reservations = new ViewerReservations({ viewersPerSession: 4, viewersPerNode: 10 }, pool);
    const a = reservations.reserve('a', true);
    const a2 = reservations.reserve('a', true); // two first viewers of one session: one encode
    const b = reservations.reserve('b', true);
    const c = reservations.reserve('c'); // a viewer of a watched session starts nothing
    expect(reservations.startingWatches('x')).toBe(2);
    expect(reservations.startingWatches('a')).toBe(1); // not counting the session asked about
    a();
    expect(reservations.startingWatches('x')).toBe(2);
    a2();
    b();
    c();
    expect(reservations.startingWatches('x')).toBe(0);
  });
});
