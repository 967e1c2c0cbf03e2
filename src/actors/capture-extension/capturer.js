// castpool's capturer: the extension's offscreen document, one per session browser context. It
// captures tabs with stream ids the extension's worker minted, encodes them with Chromium's H.264 or
// VP8 encoder and sends RTP to castpool's werift peer. It runs in the extension's own document, not in
// the captured page: any page can be captured (plain http, Chromium's error pages, a page that forbids
// display capture), and a tab's stream survives its navigations. Only castpool, over CDP, calls it.

/** One capture per tab, by castpool's key. */
const captures = new Map();

globalThis.castpoolCapture = {
  /** Returns the SDP offer of a send-only peer carrying the tab in cfg.codec. */
  async offer(key, cfg) {
    this.stop(key);
    const stream = await navigator.mediaDevices.getUserMedia({
      // The tab's sound, for sessions that stream it: the same grant gives both tracks.
      audio: cfg.audio
        ? { mandatory: { chromeMediaSource: 'tab', chromeMediaSourceId: cfg.streamId } }
        : false,
      video: {
        mandatory: {
          chromeMediaSource: 'tab',
          chromeMediaSourceId: cfg.streamId,
          maxWidth: cfg.width,
          maxHeight: cfg.height,
          // The session's full rate: a lower share is the encoder's limit, and a track opened at a
          // lowered rate could not be raised again.
          maxFrameRate: cfg.maxFps,
        },
      },
    });
    const track = stream.getVideoTracks()[0];
    const sound = stream.getAudioTracks()[0];
    const pc = new RTCPeerConnection();
    const capture = { pc, track, sound, config: cfg, limiting: Promise.resolve() };
    captures.set(key, capture);
    // Simulcast: one encoding per layer (cfg.layers: rid, scale, kbit/s), the full picture last.
    const sendEncodings = cfg.layers
      ? cfg.layers.map((layer) => ({
          rid: layer.rid,
          scaleResolutionDownBy: layer.scale,
          maxBitrate: layer.kbps * 1000,
          maxFramerate: cfg.fps,
        }))
      : [{ maxBitrate: cfg.maxKbps * 1000, maxFramerate: cfg.fps }];
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings });
    const wanted = RTCRtpSender.getCapabilities('video').codecs.filter(
      (c) => c.mimeType === `video/${cfg.codec}` && (cfg.codec !== 'H264' || c.sdpFmtpLine === cfg.fmtp),
    );
    if (wanted.length === 0) throw new Error(`this Chromium cannot encode ${cfg.codec}`);
    transceiver.setCodecPreferences(wanted);
    // After the video: the video's sender stays the first (limit, stats).
    if (sound) {
      const audio = pc.addTransceiver(sound, { direction: 'sendonly' });
      audio.setCodecPreferences(
        RTCRtpSender.getCapabilities('audio').codecs.filter((c) => c.mimeType === 'audio/opus'),
      );
    }
    const offer = await pc.createOffer();
    // Without these Chromium's estimate toward the loopback peer stays near 266 kbit/s (measured).
    const pt = new RegExp(`a=rtpmap:(\\d+) ${cfg.codec}/90000`).exec(offer.sdp)[1];
    const rates = `x-google-start-bitrate=${cfg.startKbps};x-google-min-bitrate=${cfg.minKbps};x-google-max-bitrate=${cfg.maxKbps}`;
    const fmtp = new RegExp(`^a=fmtp:${pt} .*$`, 'm');
    const sdp = fmtp.test(offer.sdp)
      ? offer.sdp.replace(fmtp, (line) => `${line};${rates}`)
      : offer.sdp.replace(
          new RegExp(`^a=rtpmap:${pt} .*$`, 'm'),
          (line) => `${line}\r\na=fmtp:${pt} ${rates}`,
        );
    await pc.setLocalDescription({ type: 'offer', sdp });
    // No wait for gathering: castpool's peer answers with its host candidates and learns this one from
    // its connectivity checks (peer-reflexive); waiting cost up to a second per start.
    return pc.localDescription.sdp;
  },

  async answer(key, sdp) {
    await captures.get(key)?.pc.setRemoteDescription({ type: 'answer', sdp });
  },

  /** One at a time: overlapping getParameters/setParameters pairs are refused by Chromium. */
  limit(key, fps, maxKbps, scale) {
    const capture = captures.get(key);
    if (!capture) return Promise.resolve();
    capture.limiting = capture.limiting
      .catch(() => {})
      .then(async () => {
        const sender = capture.pc.getSenders()[0];
        const parameters = sender.getParameters();
        const { layers } = capture.config;
        parameters.encodings.forEach((encoding, i) => {
          encoding.maxFramerate = fps;
          encoding.maxBitrate = (layers?.[i]?.kbps ?? maxKbps) * 1000;
          encoding.scaleResolutionDownBy = (layers?.[i]?.scale ?? 1) * scale;
        });
        await sender.setParameters(parameters);
        // The track's own rate too: after a lowered maxFramerate was raised again, the capture
        // sometimes kept delivering the old rate (encoder at 30 allowed, 10 encoded, for good).
        const { width, height } = capture.config;
        await capture.track.applyConstraints({ width, height, frameRate: fps }).catch(() => {});
      });
    return capture.limiting;
  },

  /** What the sender says about itself: frames encoded and why quality is limited. */
  async stats(key) {
    const capture = captures.get(key);
    if (capture)
      for (const report of (await capture.pc.getStats()).values()) {
        // Under simulcast, the full picture's encoding speaks for the capture.
        const full = capture.config.layers?.at(-1)?.rid;
        if (report.type === 'outbound-rtp' && report.kind === 'video' && (!full || report.rid === full))
          return {
            framesEncoded: report.framesEncoded || 0,
            totalEncodeTime: report.totalEncodeTime || 0,
            packetsSent: report.packetsSent || 0,
            totalPacketSendDelay: report.totalPacketSendDelay || 0,
            limitation: report.qualityLimitationReason || 'none',
            fps: report.framesPerSecond || 0,
            maxFramerate: capture.pc.getSenders()[0]?.getParameters().encodings.at(-1)?.maxFramerate ?? 0,
            ended: capture.track.readyState === 'ended',
          };
      }
    return { framesEncoded: 0, limitation: 'none', fps: 0, ended: !capture };
  },

  /** Stops one capture; returns how many are left (none: castpool may close this document). */
  stop(key) {
    const capture = captures.get(key);
    if (capture) {
      capture.track.stop();
      capture.sound?.stop();
      capture.pc.close();
      captures.delete(key);
    }
    return captures.size;
  },
};
