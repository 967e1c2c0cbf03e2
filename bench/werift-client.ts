/**
 * werift as a WHEP *client* (the bench's viewer farm), with its DTLS client's one known fault worked
 * around. castpool itself is always the DTLS server (src/actors/dtls-role.ts) and does not need this.
 *
 * The fault: werift's server answers every ClientHello without a cookie with a HelloVerifyRequest, and
 * a client under load retransmits its first ClientHello before the first answer arrives, so a second
 * HelloVerifyRequest comes; werift's client throws on it (`Flight3.exec` when already in flight 3; a
 * late one, after the server's hello, even starts the handshake over) and the viewer ends `failed`.
 * RFC 6347 §4.2.1 has the client answer it again; the ClientHello with the cookie is already being
 * retransmitted (the server keeps one cookie per connection), so ignoring the repeat is enough.
 *
 * The patch needs werift's CommonJS build (its ESM bundle does not export the flight), loaded here
 * through `require`; what this module exports comes from that same build.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const werift: typeof import('werift') = require('werift');

interface ClientFlight3 {
  dtls: { flight: number };
  exec(verifyRequest: unknown): Promise<void>;
}
const flight3Path = join(dirname(require.resolve('werift')), '../../dtls/src/flight/client/flight3.js');
const { Flight3 } = require(flight3Path) as { Flight3: { prototype: ClientFlight3 } };
const exec = Flight3.prototype.exec;
Flight3.prototype.exec = function (this: ClientFlight3, verifyRequest: unknown) {
  // A repeated HelloVerifyRequest (or a late one, once the server's hello came): already answered.
  if (this.dtls.flight >= 3) return Promise.resolve();
  return exec.call(this, verifyRequest);
};

export const { RTCPeerConnection, RTCRtpCodecParameters } = werift;
