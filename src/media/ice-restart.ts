import { CastpoolError } from '../errors.js';

/**
 * ICE restarts over WHEP (draft-ietf-wish-whep §4.3, RFC 8840 fragments): the player PATCHes an
 * sdpfrag with new `ice-ufrag`/`ice-pwd` (and maybe candidates); castpool answers `200` with a
 * fragment of its own new credentials and candidates. These are the pure SDP parts of it.
 */

/** ice-ufrag is 4–256 ice-chars, ice-pwd 22–256 (RFC 8839 §5.4). */
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

/** The ICE credentials a fragment carries, or undefined when it carries none (a plain trickle). */
export function fragmentCredentials(fragment: string): IceCredentials | undefined {
  const ufrag = /^a=ice-ufrag:(\S+)\r?$/m.exec(fragment)?.[1];
  const pwd = /^a=ice-pwd:(\S+)\r?$/m.exec(fragment)?.[1];
  if (ufrag === undefined && pwd === undefined) return undefined;
  if (ufrag === undefined || pwd === undefined)
    throw new CastpoolError('bad_request', 'an ICE restart fragment needs both a=ice-ufrag and a=ice-pwd');
  const valid = (value: string, min: number) =>
    value.length >= min && value.length <= 256 && ICE_CHARS.test(value);
  if (!valid(ufrag, 4) || !valid(pwd, 22))
    throw new CastpoolError(
      'bad_request',
      'malformed ICE credentials: ice-ufrag must be 4–256 and ice-pwd 22–256 ice-chars (RFC 8839)',
    );
  return { ufrag, pwd };
}

/**
 * The viewer's offer as it stands after its restart: the negotiated offer with the new credentials
 * in every section and none of the old generation's candidates (the new ones trickle in).
 */
export function restartedOffer(offer: string, { ufrag, pwd }: IceCredentials): string {
  const eol = offer.includes('\r\n') ? '\r\n' : '\n';
  return offer
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('a=candidate:') && !line.startsWith('a=end-of-candidates'))
    .map((line) =>
      line.startsWith('a=ice-ufrag:')
        ? `a=ice-ufrag:${ufrag}`
        : line.startsWith('a=ice-pwd:')
          ? `a=ice-pwd:${pwd}`
          : line,
    )
    .join(eol);
}

/**
 * What castpool answers a restart with, from its new local description: its credentials, then for
 * each media section its `m=` and `a=mid` lines with its candidates (bundled: all in the first).
 */
export function answerFragment(answer: string): string {
  const lines = answer.split(/\r?\n/);
  const ufrag = lines.find((line) => line.startsWith('a=ice-ufrag:'));
  const pwd = lines.find((line) => line.startsWith('a=ice-pwd:'));
  if (!ufrag || !pwd) throw new Error('the restarted answer has no ICE credentials');
  const out = [ufrag, pwd];
  const group = lines.find((line) => line.startsWith('a=group:BUNDLE'));
  if (group) out.push(group);
  // Per section, in RFC 8840's order: m=, a=mid, candidates (werift writes its mid after them).
  let section: { m: string; mid?: string; candidates: string[] } | undefined;
  const flush = () => {
    if (section?.mid) out.push(section.m, section.mid, ...section.candidates);
    section = undefined;
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flush();
      // A rejected section (port 0) takes no part in ICE.
      if (!/^m=\w+ 0 /.test(line)) section = { m: line, candidates: [] };
    } else if (section && line.startsWith('a=mid:')) section.mid = line;
    else if (section && /^a=(candidate:|end-of-candidates)/.test(line)) section.candidates.push(line);
  }
  flush();
  return `${out.join('\r\n')}\r\n`;
}
