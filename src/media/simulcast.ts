/** One simulcast encoding as Chromium's sender takes it. */
export interface SimulcastLayer {
  rid: string;
  /** scaleResolutionDownBy */
  scale: number;
  kbps: number;
}

/**
 * The layers of a simulcast tab capture, in Chromium's order (smallest first): a quarter, a half and
 * the full picture. Fan-out layer n is `layers[layers.length - 1 - n]` (0 = full). Bitrates follow the
 * pixels roughly (Chromium's own allocation gives the small layers about this share).
 *
 * Chromium sends as many layers as the picture's size allows and drops the *largest* beyond that
 * (libwebrtc's simulcast table: 3 from 960×540, 2 from 480×270, else 1): castpool asks for no more,
 * so the full picture is always one of them. Undefined: one layer, no simulcast.
 */
export function simulcastLayers(
  maxKbps: number,
  viewport: { width: number; height: number },
): SimulcastLayer[] | undefined {
  const all = [
    { rid: 'q', scale: 4, kbps: Math.max(100, Math.round(maxKbps * 0.08)) },
    { rid: 'h', scale: 2, kbps: Math.max(250, Math.round(maxKbps * 0.25)) },
    { rid: 'f', scale: 1, kbps: maxKbps },
  ];
  const fits = (width: number, height: number) => viewport.width >= width && viewport.height >= height;
  const count = fits(960, 540) ? 3 : fits(480, 270) ? 2 : 1;
  return count > 1 ? all.slice(all.length - count) : undefined;
}

/** The fan-out layer a rid's packets go to (0 = full picture), or -1 for a rid castpool did not ask for. */
export function fanoutLayerOf(rid: string | undefined, layers: readonly SimulcastLayer[]): number {
  const index = layers.findIndex((layer) => layer.rid === rid);
  return index < 0 ? -1 : layers.length - 1 - index;
}
