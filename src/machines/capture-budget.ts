/**
 * The pool's capture budget: how many frames per second the host captures and encodes across every
 * watched session, and each session's share of it. Pure functions; the pool machine calls them.
 *
 * A 2-core host captures ~85–90 screencast frames/s in total whatever the pages show; past that every
 * watched session degrades at once. The budget moves so that the host stays below its CPU limit and
 * the least important sessions lose frames first.
 */

export interface CaptureBudgetPolicy {
  /** Fixed ceiling of the total (frames/s across watched sessions); 0 = none, only the CPU decides. */
  totalFps: number;
  /** Follow host CPU: shrink the total above `cpuHigh`, grow it back below `cpuLow`. */
  adaptive: boolean;
  /** Host CPU share (0–1, all cores) above which the budget shrinks. */
  cpuHigh: number;
  /** Host CPU share below which it grows again (the gap is the hysteresis). */
  cpuLow: number;
  /** Consecutive checks above `cpuHigh` before shrinking. */
  shrinkAfterChecks: number;
  /** Consecutive checks below `cpuLow` before growing. */
  growAfterChecks: number;
  /** Shrinking sets the total to this share of what is delivered now. */
  shrinkFactor: number;
  /** Growing adds this many frames/s to the total. */
  growStepFps: number;
  /** No watched session is pushed below this rate (or its own target, if lower). */
  minSessionFps: number;
  /**
   * On a host at its limit, the first viewer of another session is taken only if the frames delivered
   * now, shared by one more, leave each `minSessionFps` this many times over: a saturated host shares
   * unevenly (8 tab-capture sessions taken while their average was over the floor ended with the
   * lowest at 0.2 FPS beside a median of 4.5: bench `density`).
   */
  saturatedAdmitFactor: number;
  /**
   * First viewers of at most this many sessions are taken while earlier ones are still warming up
   * (their cost not measured yet): a burst of watchers comes in as fast as the host shows it can carry
   * them, instead of all at once before the budget can react. 0 = no limit.
   */
  maxWarmingSessions: number;
}

export interface BudgetDemand {
  sessionId: string;
  /** Higher is more important; equal priorities share fairly. */
  priority: number;
  /** The rate the session wants (its target, or its own throttled rate). */
  fps: number;
  /** What it delivered in the last window. */
  deliveredFps: number;
  /** Its pipeline is falling behind (encoder skips, CPU-bound encoder, or throttled). */
  struggling: boolean;
  /**
   * Its capture started lately and what it costs has not shown yet in the CPU sample and in what the
   * others deliver (its warm-up windows and a few more).
   */
  warming: boolean;
}

/** Below this share of its rate a session is starved (tab capture under full saturation sends no
 * CPU signal: its encoder is not CPU-bound, the compositor just stops producing frames)… */
const STARVED_SHARE = 0.5;
/** …if it moved lately: its recent best reached this share of its rate, or clearly (by this many FPS,
 * and twice over) beat what it delivers now — a session that met saturation early never reached ¾.
 * A page that is still sends few frames by nature and its best says so. */
const MOVING_SHARE = 0.75;
const MOVING_MARGIN_FPS = 5;

/** Whether a watched session is falling behind: throttled, skipping frames, or starved of them. */
export function isStruggling(session: {
  throttled: boolean;
  busyDrops: number;
  deliveredFps: number;
  /** Its recent best (decaying). */
  peakFps: number;
  /** What it may deliver now. */
  fps: number;
  warmedUp: boolean;
}): boolean {
  const starved =
    session.warmedUp &&
    session.deliveredFps < session.fps * STARVED_SHARE &&
    session.peakFps >= Math.min(session.fps * MOVING_SHARE, 2 * session.deliveredFps + MOVING_MARGIN_FPS);
  return session.throttled || session.busyDrops > 0 || starved;
}

export interface CaptureBudgetState {
  /** The CPU-derived limit on the total; `null` = not limited by CPU. */
  cpuLimitFps: number | null;
  /** Last host CPU sample (0–1). */
  cpu: number;
  hotChecks: number;
  coolChecks: number;
}

export const initialBudgetState: CaptureBudgetState = {
  cpuLimitFps: null,
  cpu: 0,
  hotChecks: 0,
  coolChecks: 0,
};

/** The total in force: the lower of the fixed ceiling and the CPU-derived limit; `null` = unlimited. */
export function budgetTotalFps(policy: CaptureBudgetPolicy, state: CaptureBudgetState): number | null {
  const ceiling = policy.totalFps > 0 ? policy.totalFps : null;
  if (ceiling === null) return state.cpuLimitFps;
  if (state.cpuLimitFps === null) return ceiling;
  return Math.min(ceiling, state.cpuLimitFps);
}

/**
 * One CPU sample moves the CPU limit: down after a hot run, back up after a cool run, never in between.
 * Hot means the host is busy *and* some watched session is falling behind: a busy host whose sessions
 * all get their frames (the CPU goes elsewhere) is no reason to take frames away. Cool means an idle
 * host, or every watched session keeping up with what it may send: Chromium's own rendering can hold
 * the CPU high whatever is captured (2 screencast sessions of a typical page stayed limited to 12 FPS
 * each on a 200 % host), so the limit probes upward again and shrinks once more if that hurts.
 */
export function nextBudgetState(
  state: CaptureBudgetState,
  cpu: number,
  demands: readonly BudgetDemand[],
  policy: CaptureBudgetPolicy,
): CaptureBudgetState {
  if (!policy.adaptive) return { ...state, cpu, cpuLimitFps: null, hotChecks: 0, coolChecks: 0 };
  const demandFps = demands.reduce((sum, d) => sum + d.fps, 0);
  const floorFps = demands.reduce((sum, d) => sum + Math.min(d.fps, policy.minSessionFps), 0);
  if (cpu > policy.cpuHigh && demands.some((d) => d.struggling)) {
    const hotChecks = state.hotChecks + 1;
    if (hotChecks < policy.shrinkAfterChecks || demands.length === 0)
      return { ...state, cpu, hotChecks, coolChecks: 0 };
    const delivered = demands.reduce((sum, d) => sum + d.deliveredFps, 0);
    const current = state.cpuLimitFps ?? demandFps;
    const shrunk = Math.floor(Math.min(current, delivered) * policy.shrinkFactor);
    return { cpu, cpuLimitFps: Math.max(floorFps, shrunk), hotChecks: 0, coolChecks: 0 };
  }
  if (cpu < policy.cpuLow || !demands.some((d) => d.struggling)) {
    const coolChecks = state.coolChecks + 1;
    if (state.cpuLimitFps === null || coolChecks < policy.growAfterChecks)
      return { ...state, cpu, hotChecks: 0, coolChecks };
    const grown = state.cpuLimitFps + policy.growStepFps;
    // Enough for everyone again: the CPU no longer limits.
    return { cpu, cpuLimitFps: grown >= demandFps ? null : grown, hotChecks: 0, coolChecks: 0 };
  }
  return { ...state, cpu, hotChecks: 0, coolChecks: 0 };
}

/**
 * Shares `totalFps` among watched sessions: every session first gets its floor (`minSessionFps` or its
 * own lower target), then priorities are served from the highest down, each priority's sessions
 * sharing what is left max-min fairly. `null` total = everyone gets what they ask.
 */
export function allocateShares(
  demands: readonly BudgetDemand[],
  totalFps: number | null,
  minSessionFps: number,
): Record<string, number> {
  const shares: Record<string, number> = {};
  if (totalFps === null) {
    for (const d of demands) shares[d.sessionId] = d.fps;
    return shares;
  }
  const granted = new Map<BudgetDemand, number>();
  let left = totalFps;
  for (const d of demands) {
    const floor = Math.min(d.fps, minSessionFps);
    granted.set(d, floor);
    left -= floor;
  }
  const wants = (d: BudgetDemand) => d.fps - (granted.get(d) ?? 0);
  const priorities = [...new Set(demands.map((d) => d.priority))].sort((a, b) => b - a);
  for (const priority of priorities) {
    if (left <= 0) break;
    // Water-filling: the smallest wants are met first, the rest split what remains evenly.
    const tier = demands.filter((d) => d.priority === priority).sort((a, b) => wants(a) - wants(b));
    tier.forEach((d, i) => {
      const extra = Math.min(wants(d), left / (tier.length - i));
      granted.set(d, (granted.get(d) ?? 0) + extra);
      left -= extra;
    });
  }
  // Capture rates are whole frames per second; rounding down keeps the sum within the total.
  for (const [d, fps] of granted) shares[d.sessionId] = Math.max(1, Math.floor(fps + 1e-9));
  return shares;
}
