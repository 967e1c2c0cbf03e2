/**
 * The control lease: who drives a session now (one party at a time). People are controlling viewers
 * (one party each); the agent is the session's CDP clients together. These pure rules decide every
 * change; the session machine applies them and the command layer words their refusals with them.
 */

/** A party that may drive the session. */
export type ControlParty = { kind: 'person'; viewerId: string } | { kind: 'agent' };

/** Who holds the lease when nobody asked: the agent while a CDP client is attached, or the first to take. */
export type ControlDefault = 'agent' | 'first';

/**
 * How the holder got the lease: asked for it (`take`), drove while nobody held it (`input`: it lapses
 * after a while without input), or by the configured default (`default`: the agent, once attached).
 */
export type ControlHow = 'take' | 'input' | 'default';

export interface ControlLease {
  holder: ControlParty | null;
  how: ControlHow | null;
  /** When the holder got it (or when it became free). */
  since: number;
  /** The holder's last input (an `input` hold lapses after `idleReleaseMs` without one). */
  activeAt: number;
  /** A party that asked the holder to let it drive, and when. */
  requested: { by: ControlParty; at: number } | null;
}

export interface ControlRules {
  defaultHolder: ControlDefault;
  /** An `input` hold lapses after this long without input (a person who walked away). */
  idleReleaseMs: number;
}

export type ControlAction = 'take' | 'release' | 'request';

export const freeLease = (now: number): ControlLease => ({
  holder: null,
  how: null,
  since: now,
  activeAt: now,
  requested: null,
});

export function sameParty(a: ControlParty | null, b: ControlParty | null): boolean {
  if (!a || !b) return false;
  if (a.kind === 'agent' || b.kind === 'agent') return a.kind === b.kind;
  return a.viewerId === b.viewerId;
}

/** The party in words: error messages and logs. */
export function partyName(party: ControlParty): string {
  return party.kind === 'agent' ? 'the agent (CDP client)' : `a person (viewer ${party.viewerId})`;
}

/** An `input` hold whose holder has been idle past the limit: anyone may drive again. */
export function hasLapsed(lease: ControlLease, rules: ControlRules, now: number): boolean {
  return lease.how === 'input' && now - lease.activeAt >= rules.idleReleaseMs;
}

/**
 * Why `party` may not take the lease now, or undefined when it may. A person may always take over from
 * the agent (the hand-over a person steps in for); nobody takes from a person who holds it, except
 * an operator forcing it, or once that person's `input` hold lapsed.
 */
export function takeRefusal(
  lease: ControlLease,
  party: ControlParty,
  rules: ControlRules,
  now: number,
  force = false,
): string | undefined {
  const { holder } = lease;
  if (!holder || force || sameParty(holder, party) || hasLapsed(lease, rules, now)) return undefined;
  if (party.kind === 'person' && holder.kind === 'agent') return undefined;
  return `${partyName(holder)} holds control since ${new Date(lease.since).toISOString()}; ask for it with action "request"`;
}

/** Why `party` may not release the lease (it does not hold it), or undefined. */
export function releaseRefusal(
  lease: ControlLease,
  party: ControlParty | null,
  force = false,
): string | undefined {
  if (force || !lease.holder || sameParty(lease.holder, party)) return undefined;
  return `${partyName(lease.holder)} holds control, not ${party ? partyName(party) : 'the caller'}`;
}

/**
 * Whether `party`'s input may reach the page now: it holds the lease, or nobody does (its input then
 * takes it, as `input`). An idle `input` hold is let go by the session's own timer, not guessed here.
 */
export function driveRefusal(lease: ControlLease, party: ControlParty): string | undefined {
  const { holder } = lease;
  if (!holder || sameParty(holder, party)) return undefined;
  return `${partyName(holder)} holds control of this session since ${new Date(lease.since).toISOString()}`;
}

/** The lease after `party` took it. */
export function granted(
  lease: ControlLease,
  party: ControlParty,
  how: ControlHow,
  now: number,
): ControlLease {
  // Taking again what it holds keeps its `since`; input never turns a held lease into an `input` one.
  if (sameParty(lease.holder, party))
    return { ...lease, how: how === 'input' ? (lease.how ?? how) : how, activeAt: now };
  const requested = lease.requested && sameParty(lease.requested.by, party) ? null : lease.requested;
  return { holder: party, how, since: now, activeAt: now, requested };
}

/**
 * The lease once its holder let go (released, left, lapsed): the agent's by default when the rules
 * say so and a CDP client is attached, else free.
 */
export function letGo(rules: ControlRules, agentAttached: boolean, now: number): ControlLease {
  if (rules.defaultHolder === 'agent' && agentAttached)
    return { holder: { kind: 'agent' }, how: 'default', since: now, activeAt: now, requested: null };
  return freeLease(now);
}

/** The lease as clients see it (the session view, a viewer's control bar, the agent's `Castpool.getControl`). */
export interface ControlView {
  holder: ControlParty | null;
  how: ControlHow | null;
  since: string;
  requestedBy: ControlParty | null;
  defaultHolder: ControlDefault;
}

export function controlView(lease: ControlLease, rules: ControlRules): ControlView {
  return {
    holder: lease.holder,
    how: lease.how,
    since: new Date(lease.since).toISOString(),
    requestedBy: lease.requested?.by ?? null,
    defaultHolder: rules.defaultHolder,
  };
}
