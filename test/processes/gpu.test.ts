import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encoderArgs } from '../../src/actors/ffmpeg-encoder.js';
import { loadConfig } from '../../src/config.js';
import {
  chromiumGpuFlags,
  detectGpu,
  ffmpegEncoders,
  type Gpu,
  gpuRefusal,
} from '../../src/processes/gpu.js';
import { injectCastpool } from '../helpers/inject.js';
import { TEST_ROOT } from '../helpers/test-root.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A fake root with the named device files. */
function hostWith(...devices: string[]): string {
  const root = mkdtempSync(join(TEST_ROOT, 'gpu-'));
  roots.push(root);
  for (const device of devices) {
    mkdirSync(join(root, 'dev', device, '..'), { recursive: true });
    writeFileSync(join(root, 'dev', device), '');
  }
  return root;
}
const encoders =
  (...names: string[]) =>
  () =>
    new Set(['libx264', 'libvpx', ...names]);

describe('GPU detection at start', () => {
  it('finds a VA-API render node or an NVIDIA device with ffmpeg’s encoder for it, else says why not', () => {
    expect(detectGpu('auto', encoders('h264_vaapi'), hostWith('dri/renderD128', 'dri/card0'))).toEqual({
      kind: 'vaapi',
      device: expect.stringMatching(/\/dev\/dri\/renderD128$/),
      encoder: 'h264_vaapi',
    });
    const both = hostWith('dri/renderD128', 'nvidia0', 'nvidiactl');
    expect(detectGpu('auto', encoders('h264_vaapi', 'h264_nvenc'), both)).toMatchObject({
      kind: 'nvenc',
      encoder: 'h264_nvenc',
    });
    // A card without its control device is not usable; a device without ffmpeg's encoder neither.
    expect(detectGpu('auto', encoders('h264_nvenc'), hostWith('nvidia0'))).toMatchObject({
      kind: 'none',
      reason: expect.stringMatching(/no render node .* and no NVIDIA device/),
    });
    expect(detectGpu('auto', encoders(), hostWith('dri/renderD128'))).toMatchObject({
      kind: 'none',
      reason: expect.stringMatching(/renderD128\) but ffmpeg has no h264_vaapi encoder/),
    });
  });

  it('does not look when off, and refuses to start under require without one', () => {
    let asked = false;
    const gpu = detectGpu(
      'off',
      () => {
        asked = true;
        return new Set(['h264_vaapi']);
      },
      hostWith('dri/renderD128'),
    );
    expect([gpu.kind, asked]).toEqual(['none', false]);
    const none: Gpu = { kind: 'none', reason: 'no render node in /dev/dri and no NVIDIA device' };
    expect(gpuRefusal('require', none)).toBe(
      'gpu is "require" but no GPU is usable: no render node in /dev/dri and no NVIDIA device',
    );
    expect(gpuRefusal('auto', none)).toBeUndefined();
  });

  it("reads this host's ffmpeg encoders (Debian's has the GPU ones and the software ones)", () => {
    const names = ffmpegEncoders(loadConfig({}, {}).ffmpegPath);
    for (const name of ['libx264', 'libvpx', 'h264_vaapi', 'h264_nvenc']) expect(names).toContain(name);
  });
});

describe('with a GPU', () => {
  const base = {
    ffmpegPath: 'ffmpeg',
    viewport: { width: 1280, height: 720 },
    bitrateKbps: 2500,
    keyframeIntervalMs: 2000,
    rtpPort: 5000,
    ssrc: 1,
    owner: 's',
  };
  const vaapi: Gpu = { kind: 'vaapi', device: '/dev/dri/renderD128', encoder: 'h264_vaapi' };
  const nvenc: Gpu = { kind: 'nvenc', device: '/dev/nvidia0', encoder: 'h264_nvenc' };

  it('the screencast encodes H.264 on it (frames uploaded for VA-API), VP8 stays in software', () => {
    const onVaapi = encoderArgs({ ...base, codec: 'H264', gpu: vaapi });
    expect(onVaapi.slice(0, 5)).toEqual([
      '-hide_banner',
      '-loglevel',
      'error',
      '-vaapi_device',
      vaapi.device,
    ]);
    expect(onVaapi[onVaapi.indexOf('-vf') + 1]).toBe('format=nv12,hwupload');
    expect(onVaapi[onVaapi.indexOf('-c:v') + 1]).toBe('h264_vaapi');
    expect(onVaapi).not.toContain('-pix_fmt');
    const onNvenc = encoderArgs({ ...base, codec: 'H264', gpu: nvenc });
    expect(onNvenc[onNvenc.indexOf('-c:v') + 1]).toBe('h264_nvenc');
    expect(onNvenc).toContain('-pix_fmt');
    const vp8 = encoderArgs({ ...base, codec: 'VP8', gpu: vaapi });
    expect(vp8[vp8.indexOf('-c:v') + 1]).toBe('libvpx');
    expect(vp8).not.toContain('-vaapi_device');
    const odd = encoderArgs({ ...base, viewport: { width: 641, height: 361 }, codec: 'H264', gpu: vaapi });
    expect(odd[odd.indexOf('-vf') + 1]).toBe('scale=trunc(iw/2)*2:trunc(ih/2)*2,format=nv12,hwupload');
    const software = encoderArgs({ ...base, codec: 'H264', gpu: { kind: 'none', reason: '' } });
    expect(software[software.indexOf('-c:v') + 1]).toBe('libx264');
  });

  it('Chromium renders on it instead of in software', () => {
    expect(chromiumGpuFlags({ kind: 'none', reason: '' })).toEqual({ remove: [], add: [] });
    expect(chromiumGpuFlags(vaapi)).toEqual({
      remove: ['--disable-gpu'],
      add: [
        '--enable-gpu-rasterization',
        '--ignore-gpu-blocklist',
        '--enable-features=VaapiVideoEncoder,VaapiVideoDecoder',
      ],
    });
  });
});

describe('a node on this host (no GPU here)', () => {
  const here = detectGpu('auto', () => ffmpegEncoders(loadConfig({}, {}).ffmpegPath));

  it.runIf(here.kind === 'none')(
    'says so in /api/info and the metrics, and refuses gpu: "require"',
    async () => {
      const castpool = await injectCastpool();
      try {
        expect((await castpool.api('GET', '/api/info')).json.gpu).toEqual({
          kind: 'none',
          reason: (here as { reason: string }).reason,
        });
        expect((await castpool.api('GET', '/metrics')).text).toMatch(/^castpool_gpu\{kind="none"\} 1$/m);
      } finally {
        await castpool.close();
      }
      await expect(injectCastpool({ gpu: 'require' })).rejects.toThrow(
        /gpu is "require" but no GPU is usable/,
      );
    },
  );
});
