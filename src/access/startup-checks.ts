import { join } from 'node:path';
import type { Config } from '../config.js';
import { fleetKeyMaterial } from './fleet-key.js';

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i;
/** Every address of the host: not an address another node can dial. */
const WILDCARD_HOST = /^(0\.0\.0\.0|::|\[::\])$/;

/**
 * What a configuration risks, said once at start: `refusal` stops the service (a listener other
 * machines reach with no API token, unless `auth.allowAnonymousRemote`), `warnings` are logged.
 */
/** The media ports and TURN settings: a range that cannot be opened, or TURN without its secret. */
function webrtcCheck(config: Config): { refusal?: string; warnings: string[] } {
  const { udpPortMin, udpPortMax, turn } = config.webrtc;
  const warnings: string[] = [];
  const ranged = udpPortMin !== 0 || udpPortMax !== 0;
  if (ranged && (udpPortMin < 1024 || udpPortMax <= udpPortMin))
    return {
      refusal: `webrtc.udpPortMin..udpPortMax (${udpPortMin}..${udpPortMax}) is not a port range: both 0 (any port), or 1024 ≤ min < max`,
      warnings,
    };
  if (turn.urls.length > 0 && turn.secret === '')
    return {
      refusal:
        'webrtc.turn.urls are set without webrtc.turn.secret (CASTPOOL_TURN_SECRET): castpool cannot mint TURN credentials for viewers',
      warnings,
    };
  if (turn.urls.length === 0 && turn.secret !== '')
    warnings.push('webrtc.turn.secret is set but webrtc.turn.urls is empty: viewers get no TURN server');
  // Each viewer's peer connection holds one port of the range (bundled media).
  if (ranged && udpPortMax - udpPortMin + 1 < config.limits.viewersPerNode)
    warnings.push(
      `webrtc.udpPortMin..udpPortMax holds ${udpPortMax - udpPortMin + 1} ports, fewer than limits.viewersPerNode (${config.limits.viewersPerNode}): viewers beyond it fail to connect`,
    );
  return { warnings };
}

export function startupChecks(config: Config): { refusal?: string; warnings: string[] } {
  const warnings: string[] = [];
  const tokens = config.auth.tokens.length + (config.apiToken ? 1 : 0);
  const remote = !LOOPBACK_HOST.test(config.host);
  if (remote && tokens === 0 && !config.auth.allowAnonymousRemote)
    return {
      refusal: `castpool would listen on ${config.host} (reachable from other machines) without API tokens: set auth.tokens or CASTPOOL_API_TOKENS, or allow it explicitly with auth.allowAnonymousRemote (CASTPOOL_ALLOW_ANONYMOUS_REMOTE=1)`,
      warnings,
    };
  if (remote)
    warnings.push(
      `castpool listens on ${config.host}, not loopback: reachable from other machines${tokens > 0 ? '' : ' WITHOUT API tokens (auth.allowAnonymousRemote)'}`,
    );
  if (fleetKeyMaterial(config) === undefined) {
    if (config.contexts.withoutKey === 'refuse')
      return {
        refusal:
          'saved contexts (logins) need a key: set fleet.secret (CASTPOOL_FLEET_SECRET) or API tokens, or keep them on this node only with contexts.withoutKey: "local"',
        warnings,
      };
    warnings.push(
      `no fleet key (fleet.secret, API tokens): saved contexts are kept on this node's disk only (${join(config.dataDir, 'contexts')}), sealed with a key file beside them`,
    );
  }
  if (config.nats.enabled && WILDCARD_HOST.test(config.host) && !config.advertiseUrl && !config.publicUrl)
    warnings.push(
      `castpool listens on ${config.host} without advertiseUrl (CASTPOOL_ADVERTISE_URL) or publicUrl: the other nodes of a fleet cannot relay CDP clients to it (they would reach themselves)`,
    );
  const media = webrtcCheck(config);
  if (media.refusal) return { refusal: media.refusal, warnings };
  warnings.push(...media.warnings);
  if (!config.urlPolicy.blockPrivateAddresses)
    warnings.push(
      'urlPolicy.blockPrivateAddresses is off: sessions may open loopback, private and link-local addresses (this service, cloud metadata); meant for intranet use only',
    );
  return { warnings };
}
