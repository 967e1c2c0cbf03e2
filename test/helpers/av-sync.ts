import type { Page } from 'puppeteer-core';

/** When a view page saw the picture turn bright and heard a sound start (its `performance.now()`, ms). */
export interface Onsets {
  seen: number[];
  heard: number[];
}

/**
 * Watches a view page for `ms` as a person would watch the /tone page: the moments its picture turns
 * white (from the frame callbacks, at each frame's expected display time) and the moments its sound
 * starts (an analyser on the received audio track, read every 4 ms: ~5 ms late at most).
 */
export async function watchOnsets(view: Page, ms: number): Promise<Onsets> {
  await view.evaluate('globalThis.__name = (fn) => fn'); // tsx's keepNames helper, absent in the page
  return view.evaluate(async (ms) => {
    const video = document.getElementById('video') as HTMLVideoElement;
    const track = (video.srcObject as MediaStream | null)?.getAudioTracks()[0];
    const seen: number[] = [];
    const heard: number[] = [];
    let done = false;
    const canvas = new OffscreenCanvas(8, 8);
    const drawing = canvas.getContext('2d', { willReadFrequently: true });
    let bright = false;
    const onFrame = (now: number, frame: { expectedDisplayTime?: number }) => {
      drawing?.drawImage(video, 0, 0, 8, 8);
      const [r = 0, g = 0, b = 0] = drawing?.getImageData(4, 4, 1, 1).data ?? [];
      const light = r + g + b;
      if (!bright && light > 600) {
        bright = true;
        seen.push(frame.expectedDisplayTime ?? now);
      } else if (bright && light < 150) bright = false;
      if (!done) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    const context = new AudioContext();
    let timer: ReturnType<typeof setInterval> | undefined;
    if (track) {
      const analyser = context.createAnalyser();
      analyser.fftSize = 256;
      context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      let loud = false;
      timer = setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        let energy = 0;
        for (const sample of samples) energy += sample * sample;
        const rms = Math.sqrt(energy / samples.length);
        if (!loud && rms > 0.05) {
          loud = true;
          heard.push(performance.now() + context.outputLatency * 1000);
        } else if (loud && rms < 0.01) loud = false;
      }, 4);
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    done = true;
    clearInterval(timer);
    await context.close();
    return { seen, heard };
  }, ms);
}

/**
 * Sound minus picture (ms) for every picture change that has a sound start within half a beep
 * period of it: positive when the sound comes late.
 */
export function avOffsets({ seen, heard }: Onsets, periodMs: number): number[] {
  const offsets: number[] = [];
  for (const at of seen) {
    let nearest: number | undefined;
    for (const sound of heard)
      if (nearest === undefined || Math.abs(sound - at) < Math.abs(nearest - at)) nearest = sound;
    if (nearest !== undefined && Math.abs(nearest - at) < periodMs / 2) offsets.push(nearest - at);
  }
  return offsets;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
};
