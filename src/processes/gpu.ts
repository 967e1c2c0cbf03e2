import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type GpuMode = 'auto' | 'off' | 'require';

/** What castpool uses of the host's GPU: the device, and the screencast's H.264 encoder on it. */
export type Gpu =
  | { kind: 'none'; reason: string }
  | { kind: 'vaapi'; device: string; encoder: 'h264_vaapi' }
  | { kind: 'nvenc'; device: string; encoder: 'h264_nvenc' };

/** The encoders this ffmpeg has (`ffmpeg -encoders`); empty when it cannot be run. */
export function ffmpegEncoders(ffmpegPath: string): Set<string> {
  const listed = spawnSync(ffmpegPath, ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 10_000 });
  const names = (listed.stdout ?? '').split('\n').map((line) => /^\s*V\S*\s+(\S+)/.exec(line)?.[1]);
  return new Set(names.filter((name): name is string => name !== undefined));
}

function usable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The host's GPU as castpool can use it, found at start: a VA-API render node (`/dev/dri/renderD*`,
 * Intel/AMD) or an NVIDIA device (`/dev/nvidia0` with `/dev/nvidiactl`, NVENC), readable and writable,
 * with ffmpeg's encoder for it. `root` is `/` but in tests. `off` never looks.
 */
export function detectGpu(mode: GpuMode, encoders: () => Set<string>, root = '/'): Gpu {
  if (mode === 'off') return { kind: 'none', reason: 'gpu is off in the configuration' };
  const dev = join(root, 'dev');
  let renderNodes: string[] = [];
  try {
    renderNodes = readdirSync(join(dev, 'dri'))
      .filter((name) => /^renderD\d+$/.test(name))
      .sort();
  } catch {
    // no DRI devices
  }
  const render = renderNodes.map((name) => join(dev, 'dri', name)).find(usable);
  const nvidia = usable(join(dev, 'nvidia0')) && usable(join(dev, 'nvidiactl')) ? join(dev, 'nvidia0') : '';
  if (!render && !nvidia)
    return {
      kind: 'none',
      reason:
        renderNodes.length > 0
          ? `${renderNodes.join(', ')} in ${join(dev, 'dri')} but none readable and writable by castpool`
          : `no render node in ${join(dev, 'dri')} and no NVIDIA device`,
    };
  const available = encoders();
  if (nvidia && available.has('h264_nvenc')) return { kind: 'nvenc', device: nvidia, encoder: 'h264_nvenc' };
  if (render && available.has('h264_vaapi')) return { kind: 'vaapi', device: render, encoder: 'h264_vaapi' };
  return {
    kind: 'none',
    reason: `a GPU device (${nvidia || render}) but ffmpeg has no ${nvidia ? 'h264_nvenc' : 'h264_vaapi'} encoder`,
  };
}

/** `gpu: require` without one is a start-up refusal, said plainly. */
export function gpuRefusal(mode: GpuMode, gpu: Gpu): string | undefined {
  return mode === 'require' && gpu.kind === 'none'
    ? `gpu is "require" but no GPU is usable: ${gpu.reason}`
    : undefined;
}

/**
 * Chromium's switches for the GPU: without one, software rendering (`--disable-gpu`, as castpool's
 * default flags say); with one, GPU rasterisation and compositing, and VA-API video encoding for tab
 * capture on a render node.
 */
export function chromiumGpuFlags(gpu: Gpu): { remove: string[]; add: string[] } {
  if (gpu.kind === 'none') return { remove: [], add: [] };
  return {
    remove: ['--disable-gpu'],
    add: [
      '--enable-gpu-rasterization',
      '--ignore-gpu-blocklist',
      ...(gpu.kind === 'vaapi' ? ['--enable-features=VaapiVideoEncoder,VaapiVideoDecoder'] : []),
    ],
  };
}

/** One line for the log at start: what castpool uses, and why. */
export function gpuSummary(gpu: Gpu): string {
  return gpu.kind === 'none'
    ? `GPU: none (${gpu.reason}): Chromium renders in software, the screencast encodes with libx264/libvpx`
    : `GPU: ${gpu.kind === 'vaapi' ? 'VA-API' : 'NVIDIA'} ${gpu.device}: Chromium rasterises and composites on it, the screencast encodes H.264 with ${gpu.encoder}`;
}
