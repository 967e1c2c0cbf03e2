import { describe, expect, it } from 'vitest';
import {
  allocateShares,
  type BudgetDemand,
  budgetTotalFps,
  type CaptureBudgetPolicy,
  type CaptureBudgetState,
  initialBudgetState,
  isStruggling,
  nextBudgetState,
} from '../../src/machines/capture-budget.js';

const demand = (
  sessionId: string,
  priority: number,
  fps = 30,
  deliveredFps = fps,
  struggling = false,
): BudgetDemand => ({ sessionId, priority, fps, deliveredFps, struggling, warming: false });

const policy: CaptureBudgetPolicy = {
  totalFps: 0,
  adaptive: true,
  cpuHigh: 0.9,
  cpuLow: 0.7,
  shrinkAfterChecks: 2,
  growAfterChecks: 3,
  shrinkFactor: 0.8,
  growStepFps: 10,
  minSessionFps: 5,
  saturatedAdmitFactor: 2,
  maxWarmingSessions: 0,
};

describe('capture budget: shares', () => {
  it('gives everyone what they ask when nothing limits the total', () => {
    expect(allocateShares([demand('a', 5), demand('b', 1, 60)], null, 5)).toEqual({ a: 30, b: 60 });
  });

  it('serves higher priorities first; the lowest loses frames, never below the floor', () => {
    const shares = allocateShares([demand('low', 1), demand('high', 9), demand('mid', 5)], 70, 5);
    expect(shares).toEqual({ high: 30, mid: 30, low: 10 });
    expect(allocateShares([demand('low', 1), demand('high', 9)], 20, 5)).toEqual({ high: 15, low: 5 });
  });

  it('shares fairly within a priority (max-min: small wants are met, the rest split evenly)', () => {
    const shares = allocateShares([demand('a', 5), demand('b', 5), demand('small', 5, 10)], 50, 5);
    expect(shares).toEqual({ small: 10, a: 20, b: 20 });
    const sum = Object.values(allocateShares([demand('x', 3), demand('y', 3), demand('z', 3)], 40, 5));
    expect(sum.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(40);
    expect(Math.max(...sum) - Math.min(...sum)).toBeLessThanOrEqual(1);
  });

  it('keeps every session at its floor when the total cannot even cover the floors', () => {
    expect(allocateShares([demand('a', 9), demand('b', 1), demand('c', 1, 3)], 4, 5)).toEqual({
      a: 5,
      b: 5,
      c: 3,
    });
  });
});

describe('capture budget: following host CPU', () => {
  const demands = [demand('a', 5, 30, 24, true), demand('b', 5, 30, 26)];

  it('leaves a busy host alone while every watched session keeps up', () => {
    const keepingUp = demands.map((d) => ({ ...d, struggling: false }));
    let state = initialBudgetState;
    for (let i = 0; i < 5; i++) state = nextBudgetState(state, 0.99, keepingUp, policy);
    expect(state.cpuLimitFps).toBeNull();
    expect(state.cpu).toBe(0.99);
  });

  it('shrinks only after a run of hot checks, to a share of what is delivered', () => {
    let state = nextBudgetState(initialBudgetState, 0.97, demands, policy);
    expect(state.cpuLimitFps).toBeNull();
    state = nextBudgetState(state, 0.97, demands, policy);
    expect(state.cpuLimitFps).toBe(40); // (24 + 26) × 0.8
    expect(budgetTotalFps(policy, state)).toBe(40);
  });

  it('does not move inside the hysteresis band, and grows back in steps until unlimited', () => {
    let state: CaptureBudgetState = { ...initialBudgetState, cpuLimitFps: 40 };
    for (let i = 0; i < 10; i++) state = nextBudgetState(state, 0.8, demands, policy);
    expect(state.cpuLimitFps).toBe(40);
    // A hot check interrupts a cool run: the count starts again.
    state = nextBudgetState(state, 0.5, demands, policy);
    state = nextBudgetState(state, 0.5, demands, policy);
    state = nextBudgetState(state, 0.95, demands, policy);
    state = nextBudgetState(state, 0.5, demands, policy);
    state = nextBudgetState(state, 0.5, demands, policy);
    expect(state.cpuLimitFps).toBe(40);
    state = nextBudgetState(state, 0.5, demands, policy);
    expect(state.cpuLimitFps).toBe(50);
    for (let i = 0; i < 3; i++) state = nextBudgetState(state, 0.5, demands, policy);
    expect(state.cpuLimitFps).toBeNull(); // 60 ≥ the 60 asked for
  });

  it('grows back on a busy host once every watched session keeps up with its share', () => {
    const keepingUp = demands.map((d) => ({ ...d, struggling: false }));
    let state: CaptureBudgetState = { ...initialBudgetState, cpuLimitFps: 24 };
    for (let i = 0; i < 2; i++) state = nextBudgetState(state, 0.99, keepingUp, policy);
    expect(state.cpuLimitFps).toBe(24);
    state = nextBudgetState(state, 0.99, keepingUp, policy);
    expect(state.cpuLimitFps).toBe(34);
    // Probing up hurt: a session falls behind on the busy host and the limit comes down again.
    for (let i = 0; i < 2; i++) state = nextBudgetState(state, 0.99, demands, policy);
    expect(state.cpuLimitFps).toBe(27); // min(34, 24 + 26 delivered) × 0.8
  });

  it('never shrinks below the floors, and a fixed ceiling caps the total either way', () => {
    let state: CaptureBudgetState = { ...initialBudgetState, cpuLimitFps: 12 };
    state = nextBudgetState(state, 1, demands, { ...policy, shrinkAfterChecks: 1 });
    expect(state.cpuLimitFps).toBe(10);
    expect(budgetTotalFps({ ...policy, totalFps: 45 }, initialBudgetState)).toBe(45);
    expect(budgetTotalFps({ ...policy, totalFps: 45 }, state)).toBe(10);
    expect(nextBudgetState(state, 1, demands, { ...policy, adaptive: false }).cpuLimitFps).toBeNull();
  });
});

describe('struggling sessions', () => {
  const base = { throttled: false, busyDrops: 0, deliveredFps: 30, peakFps: 30, fps: 30, warmedUp: true };
  it('counts throttled, frame-skipping and starved sessions, not ones still warming up or still pages', () => {
    expect(isStruggling(base)).toBe(false);
    expect(isStruggling({ ...base, throttled: true })).toBe(true);
    expect(isStruggling({ ...base, busyDrops: 2 })).toBe(true);
    // Tab capture under full saturation: no CPU-bound encoder, just no frames.
    expect(isStruggling({ ...base, deliveredFps: 3 })).toBe(true);
    expect(isStruggling({ ...base, deliveredFps: 3, warmedUp: false })).toBe(false);
    expect(isStruggling({ ...base, deliveredFps: 9, fps: 10 })).toBe(false);
    // A page that stopped moving delivers little by nature, and its recent best says so.
    expect(isStruggling({ ...base, deliveredFps: 1, peakFps: 4 })).toBe(false);
    // Held to a share of 10, it is judged against 10.
    expect(isStruggling({ ...base, deliveredFps: 4, peakFps: 9, fps: 10 })).toBe(true);
    // Saturated from its start: it never reached ¾ of its rate, but clearly did better than now.
    expect(isStruggling({ ...base, deliveredFps: 1.4, peakFps: 12 })).toBe(true);
    expect(isStruggling({ ...base, deliveredFps: 1.4, peakFps: 6 })).toBe(false);
  });
});
