import type { RTCPeerConnection } from 'werift';

/**
 * castpool takes the DTLS server role (`a=setup:passive`) in an answer whenever the offer lets it
 * choose (`actpass`) or asks for it (`active`); call it after the remote offer is set and before
 * `createAnswer`. An offer that insists on being the server (`passive`) keeps werift's client role.
 *
 * werift answers as the DTLS client by default, and its client fails the whole handshake when a
 * second HelloVerifyRequest arrives (RFC 6347 §4.2.1 says a client should answer it). That happens
 * whenever castpool's event loop is late by more than werift's first retransmission (500 ms): the
 * retransmitted ClientHello is answered a second time, and the viewer ends `failed` while its ICE is
 * connected (measured: 5 sessions' first viewers joining at once, 3 runs of 5 failed every viewer).
 * As the server, castpool leaves retransmission to the player's DTLS client (Chromium's, Firefox's,
 * GStreamer's), which handles repeated messages.
 */
export function answerAsDtlsServer(pc: RTCPeerConnection): void {
  if (/^a=setup:passive\s*$/m.test(pc.remoteDescription?.sdp ?? '')) return;
  for (const transport of pc.dtlsTransports) transport.role = 'server';
}
