/**
 * Runs inside the session page's isolated world (the page's own scripts cannot see it): captures the
 * tab with the one-use stream id castpool's extension granted (getUserMedia, source "tab"), encodes it with Chromium's H.264 or VP8 encoder and sends it to castpool's werift
 * peer. Kept as plain JavaScript text: it is evaluated over CDP, not bundled.
 */
export const TAB_CAPTURE_SCRIPT = String.raw`
globalThis.castpoolCapture = (() => {
  let pc;
  let track;
  let limiting = Promise.resolve();
  let config;
  return {
    /** Returns the SDP offer of a send-only peer carrying this tab in cfg.codec. */
    async offer(cfg) {
      config = cfg;
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {
          mandatory: {
            chromeMediaSource: 'tab',
            chromeMediaSourceId: cfg.streamId,
            maxWidth: cfg.width,
            maxHeight: cfg.height,
            // The session's full rate: a lower share is the encoder's limit, and a track opened at
            // a lowered rate could not be raised again.
            maxFrameRate: cfg.maxFps,
          },
        },
      });
      track = stream.getVideoTracks()[0];
      pc = new RTCPeerConnection();
      const transceiver = pc.addTransceiver(track, {
        direction: 'sendonly',
        sendEncodings: [{ maxBitrate: cfg.maxKbps * 1000, maxFramerate: cfg.fps }],
      });
      const wanted = RTCRtpSender.getCapabilities('video').codecs.filter((c) =>
        c.mimeType === 'video/' + cfg.codec && (cfg.codec !== 'H264' || c.sdpFmtpLine === cfg.fmtp));
      if (wanted.length === 0) throw new Error('this Chromium cannot encode ' + cfg.codec);
      transceiver.setCodecPreferences(wanted);
      const offer = await pc.createOffer();
      // Without these Chromium's estimate toward the loopback peer stays near 266 kbit/s (measured).
      const pt = new RegExp('a=rtpmap:(\\d+) ' + cfg.codec + '/90000').exec(offer.sdp)[1];
      const rates = 'x-google-start-bitrate=' + cfg.startKbps + ';x-google-min-bitrate=' + cfg.minKbps +
        ';x-google-max-bitrate=' + cfg.maxKbps;
      const fmtp = new RegExp('^a=fmtp:' + pt + ' .*$', 'm');
      offer.sdp = fmtp.test(offer.sdp)
        ? offer.sdp.replace(fmtp, (line) => line + ';' + rates)
        : offer.sdp.replace(new RegExp('^a=rtpmap:' + pt + ' .*$', 'm'), (line) => line + '\r\na=fmtp:' + pt + ' ' + rates);
      await pc.setLocalDescription(offer);
      // No wait for gathering: castpool's peer answers with its host candidates and learns this one
      // from its connectivity checks (peer-reflexive); waiting cost up to a second per start.
      return pc.localDescription.sdp;
    },
    async answer(sdp) {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    },
    /** One at a time: overlapping getParameters/setParameters pairs are refused by Chromium. */
    limit(fps, maxKbps, scale) {
      limiting = limiting.catch(() => {}).then(async () => {
        const sender = pc.getSenders()[0];
        const parameters = sender.getParameters();
        for (const encoding of parameters.encodings) {
          encoding.maxFramerate = fps;
          encoding.maxBitrate = maxKbps * 1000;
          encoding.scaleResolutionDownBy = scale;
        }
        await sender.setParameters(parameters);
        // The track's own rate too: after a lowered maxFramerate was raised again, the capture sometimes
        // kept delivering the old rate (encoder at 30 allowed, 10 encoded, for good; 2 runs in 5).
        await track.applyConstraints({ width: config.width, height: config.height, frameRate: fps }).catch(() => {});
      });
      return limiting;
    },
    /** What the sender says about itself: frames encoded and why quality is limited. */
    async stats() {
      for (const report of (await pc.getStats()).values()) {
        if (report.type === 'outbound-rtp' && report.kind === 'video')
          return {
            framesEncoded: report.framesEncoded || 0,
            totalEncodeTime: report.totalEncodeTime || 0,
            packetsSent: report.packetsSent || 0,
            totalPacketSendDelay: report.totalPacketSendDelay || 0,
            limitation: report.qualityLimitationReason || 'none',
            fps: report.framesPerSecond || 0,
            maxFramerate: pc.getSenders()[0]?.getParameters().encodings[0]?.maxFramerate ?? 0,
          };
      }
      return { framesEncoded: 0, limitation: 'none', fps: 0 };
    },
    stop() {
      if (track) track.stop();
      if (pc) pc.close();
      pc = undefined;
      track = undefined;
    },
  };
})();
`;
