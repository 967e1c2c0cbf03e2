import { describe, expect, it } from 'vitest';
import { MediaStreamTrack, RTCRtpSender, type RtcpPacket, RtcpSrPacket } from 'werift';
import { AudioFanout } from '../../src/media/audio-fanout.js';
import { CaptureClock, ntpFromSeconds, secondsFromNtp } from '../../src/media/capture-clock.js';
import { reportCaptureTime } from '../../src/media/capture-time-reports.js';
import { RtpFanout } from '../../src/media/rtp-fanout.js';

/** An RTP packet of `ssrc` stamped `timestamp`, sequence `seq`, marker set (a whole frame). */
function rtp(ssrc: number, seq: number, timestamp: number): Buffer {
  const packet = Buffer.alloc(14);
  packet[0] = 0x80;
  packet[1] = 0x80 | 96;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc >>> 0, 8);
  return packet;
}

describe('NTP timestamps', () => {
  it('keep the fraction of a second (werift wrote 0.2158 s as 0.0005 s)', () => {
    const seconds = 3_970_000_000.2158;
    const ntp = ntpFromSeconds(seconds);
    expect(Number(ntp & 0xffffffffn) / 2 ** 32).toBeCloseTo(0.2158, 5);
    expect(secondsFromNtp(ntp)).toBeCloseTo(seconds, 5);
  });
});

describe('CaptureClock', () => {
  it('maps an RTP time to its capture time, across the 32-bit wrap', () => {
    const clock = new CaptureClock(90_000);
    clock.note(ntpFromSeconds(1000.5), 0xffffff00);
    expect(clock.known).toBe(true);
    expect(clock.secondsAt(0xffffff00 + 90_000 - 2 ** 32)).toBeCloseTo(1001.5, 6);
    expect(clock.secondsAt(0xffffff00 - 45_000)).toBeCloseTo(1000, 6);
    clock.forget();
    expect(clock.known).toBe(false);
  });
});

describe('a fan-out’s capture clock', () => {
  it('takes its current source’s reports in outgoing terms, ignores others, forgets on a source change', () => {
    const fanout = new RtpFanout(0);
    fanout.forward(rtp(1, 10, 5000));
    fanout.senderReport(2, ntpFromSeconds(50), 5000); // another stream's report
    expect(fanout.clock.known).toBe(false);
    fanout.senderReport(1, ntpFromSeconds(100), 5000);
    expect(fanout.clock.secondsAt(5000 + 9000)).toBeCloseTo(100.1, 6);
    // A new source continues the stream: its timestamps are moved, and so are its reports'.
    fanout.forward(rtp(3, 700, 123_456));
    expect(fanout.clock.known).toBe(false);
    const next = rtp(3, 701, 123_456 + 3000);
    fanout.forward(next); // rewritten in place into the outgoing stream
    fanout.senderReport(1, ntpFromSeconds(999), 5000); // the retired source's late report
    expect(fanout.clock.known).toBe(false);
    fanout.senderReport(3, ntpFromSeconds(200), 123_456 + 3000);
    const outgoing = next.readUInt32BE(4);
    expect(outgoing).not.toBe(123_456 + 3000);
    expect(fanout.clock.secondsAt(outgoing)).toBeCloseTo(200, 6);
  });

  it('works the same for sound (48 kHz)', () => {
    const audio = new AudioFanout();
    audio.forward(rtp(7, 1, 960));
    audio.senderReport(7, ntpFromSeconds(10), 960);
    expect(audio.clock.secondsAt(960 + 48_000)).toBeCloseTo(11, 6);
  });
});

describe('a viewer’s werift sender', () => {
  /** A sender with a transport that is up and keeps what it sends (werift's own sendRtp and RTCP loop). */
  function connectedSender() {
    const sender = new RTCRtpSender(new MediaStreamTrack({ kind: 'video' }));
    const reports: RtcpSrPacket[] = [];
    Object.assign(sender, {
      codec: { payloadType: 102 },
      dtlsTransport: {
        state: 'connected',
        transportSequenceNumber: 0,
        sendRtp: async () => 100,
        sendRtcp: async (packets: RtcpPacket[]) => {
          for (const packet of packets)
            if (packet.type === RtcpSrPacket.type) reports.push(packet as RtcpSrPacket);
        },
      },
    });
    return { sender, reports };
  }

  const firstReport = async (reports: RtcpSrPacket[]) => {
    const deadline = Date.now() + 3000;
    while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return reports[0];
  };

  it('reports when the media of its last packet was captured, its own offset taken off', async () => {
    const { sender, reports } = connectedSender();
    const clock = new CaptureClock(90_000);
    clock.note(ntpFromSeconds(3_900_000_000.25), 1_000_000);
    reportCaptureTime(sender, () => clock);
    Object.assign(sender, { timestampOffset: 777 }); // a layer switch continued its numbering
    await sender.sendRtp(rtp(9, 1, 1_000_000 + 45_000));
    const report = await firstReport(reports);
    expect(report?.senderInfo.rtpTimestamp).toBe(1_000_000 + 45_000 + 777);
    expect(secondsFromNtp(report?.senderInfo.ntpTimestamp ?? 0n)).toBeCloseTo(3_900_000_000.75, 5);
    sender.stop();
  });

  it('reports NTP time 0 (which players do not synchronise by) until the capture’s clock is known', async () => {
    const { sender, reports } = connectedSender();
    const clock = new CaptureClock(90_000);
    reportCaptureTime(sender, () => clock);
    await sender.sendRtp(rtp(9, 1, 4242));
    const report = await firstReport(reports);
    expect(report?.senderInfo.rtpTimestamp).toBe(4242);
    expect(report?.senderInfo.ntpTimestamp).toBe(0n);
    // Once known, the next report carries the capture time.
    clock.note(ntpFromSeconds(3_900_000_000), 4242);
    reports.length = 0;
    const next = await firstReport(reports);
    expect(secondsFromNtp(next?.senderInfo.ntpTimestamp ?? 0n)).toBeCloseTo(3_900_000_000, 5);
    sender.stop();
  });
});
