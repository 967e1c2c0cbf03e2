import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RTCRtpTransceiver,
} from 'werift';
import { opusCodec } from '../../src/media/audio-fanout.js';
import { H264_BASELINE_FMTP } from '../../src/media/sdp.js';

/**
 * A receive-only werift player of H.264 (constrained baseline), as a WHEP player offers: with its audio
 * section first when `audioFirst` (most players), and the header extensions named by URI. Its offer is
 * set as its local description; close it when done (`playerOffer` gives only the offer).
 */
export async function weriftPlayer(options: { audioFirst?: boolean; extensions?: string[] } = {}) {
  const pc = new RTCPeerConnection({
    iceServers: [],
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: H264_BASELINE_FMTP,
        }),
      ],
      audio: options.audioFirst ? [opusCodec()] : [],
    },
    headerExtensions: {
      video: (options.extensions ?? []).map(
        (uri, i) => new RTCRtpHeaderExtensionParameters({ id: i + 1, uri }),
      ),
      audio: [],
    },
  });
  if (options.audioFirst) pc.addTransceiver('audio', { direction: 'recvonly' });
  const transceiver: RTCRtpTransceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return { pc, transceiver, offer: pc.localDescription?.sdp ?? '' };
}

/** Only the player's offer (its peer closed). */
export async function playerOffer(options: { audioFirst?: boolean } = {}): Promise<string> {
  const { pc, offer } = await weriftPlayer(options);
  await pc.close();
  return offer;
}
