import { describe, expect, it } from 'vitest';
import { answerFragment, fragmentCredentials, restartedOffer } from '../../src/media/ice-restart.js';

const offer = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:0',
  'a=ice-ufrag:old1',
  'a=ice-pwd:oldpassword0123456789012',
  'a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host',
  'a=end-of-candidates',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=mid:1',
  'a=ice-ufrag:old1',
  'a=ice-pwd:oldpassword0123456789012',
  '',
].join('\r\n');

describe('ICE restart fragments (RFC 8840)', () => {
  it('reads new credentials, refuses half or malformed ones, and sees none in a plain trickle', () => {
    expect(fragmentCredentials('a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n')).toEqual({
      ufrag: 'abcd',
      pwd: '0123456789012345678901',
    });
    expect(
      fragmentCredentials(
        'm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n',
      ),
    ).toBe(undefined);
    expect(() => fragmentCredentials('a=ice-ufrag:abcd\r\n')).toThrow(/needs both/);
    expect(() => fragmentCredentials('a=ice-ufrag:abcd\r\na=ice-pwd:short\r\n')).toThrow(
      /malformed ICE credentials/,
    );
    expect(() => fragmentCredentials('a=ice-ufrag:a<b>\r\na=ice-pwd:0123456789012345678901\r\n')).toThrow(
      /malformed/,
    );
  });

  it("puts the viewer's new credentials in every section and drops the old generation's candidates", () => {
    const restarted = restartedOffer(offer, { ufrag: 'new1', pwd: 'newpassword0123456789012' });
    expect(restarted.match(/^a=ice-ufrag:new1\r$/gm)).toHaveLength(2);
    expect(restarted.match(/^a=ice-pwd:newpassword0123456789012\r$/gm)).toHaveLength(2);
    expect(restarted).not.toMatch(/old1|oldpassword|a=candidate|end-of-candidates/);
    expect(restarted.split('\r\n').length).toBe(offer.split('\r\n').length - 2);
  });

  it("answers castpool's credentials with each live section's mid and candidates, rejected sections left out", () => {
    const answer = [
      'v=0',
      'a=group:BUNDLE 0 1',
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'a=mid:0',
      'a=ice-ufrag:srv1',
      'a=ice-pwd:serverpassword0123456789',
      'a=candidate:2 1 udp 2130706431 198.51.100.1 40000 typ host',
      'a=end-of-candidates',
      'm=audio 0 UDP/TLS/RTP/SAVPF 111',
      'a=mid:2',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'a=mid:1',
      '',
    ].join('\r\n');
    expect(answerFragment(answer)).toBe(
      [
        'a=ice-ufrag:srv1',
        'a=ice-pwd:serverpassword0123456789',
        'a=group:BUNDLE 0 1',
        'm=video 9 UDP/TLS/RTP/SAVPF 96',
        'a=mid:0',
        'a=candidate:2 1 udp 2130706431 198.51.100.1 40000 typ host',
        'a=end-of-candidates',
        'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
        'a=mid:1',
        '',
      ].join('\r\n'),
    );
  });
});
