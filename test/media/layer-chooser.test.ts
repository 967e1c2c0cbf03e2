import { describe, expect, it } from 'vitest';
import { LayerChooser } from '../../src/media/layer-chooser.js';

const clean = { packetsSent: 100, packetsLost: 0, rttMs: 20 };
const lossy = { packetsSent: 100, packetsLost: 20, rttMs: 20 };
const queued = { packetsSent: 100, packetsLost: 0, rttMs: 400 };

describe('LayerChooser', () => {
  it('moves a viewer down after two congested windows, by loss or by a queue, one layer at a time', () => {
    const chooser = new LayerChooser(3);
    expect(chooser.observe(clean)).toBe(0);
    expect(chooser.observe(lossy)).toBe(0); // one bad window is not a trend
    expect(chooser.observe(lossy)).toBe(1);
    expect(chooser.observe(queued)).toBe(1);
    expect(chooser.observe(queued)).toBe(2);
    expect(chooser.observe(lossy)).toBe(2); // nothing below the last
    expect(chooser.observe(lossy)).toBe(2);
    expect(chooser.downs).toBe(2);
  });

  it('probes the layer above after clean windows, abandons a failed probe at once and waits longer next time', () => {
    const chooser = new LayerChooser(3);
    for (let i = 0; i < 4; i++) chooser.observe(lossy);
    expect(chooser.layer).toBe(2);
    const windowsUntilUp = () => {
      let windows = 0;
      while (chooser.layer === 2 && windows < 50) {
        chooser.observe(clean);
        windows++;
      }
      return windows;
    };
    expect(windowsUntilUp()).toBe(3);
    expect(chooser.observe(lossy)).toBe(2); // the probe failed in its first window
    expect(windowsUntilUp()).toBe(6); // held twice as long
    expect(chooser.observe(lossy)).toBe(2);
    expect(windowsUntilUp()).toBe(6); // bounded
  });

  it('climbs back to the full picture within 10 windows once the link is clean, whatever it went through', () => {
    const chooser = new LayerChooser(3);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) chooser.observe(lossy);
      for (let i = 0; i < 6; i++) chooser.observe(clean);
      chooser.observe(lossy);
    }
    for (let i = 0; i < 4; i++) chooser.observe(lossy);
    expect(chooser.layer).toBe(2);
    let windows = 0;
    while (chooser.layer > 0) {
      chooser.observe(clean);
      windows++;
    }
    expect(windows).toBeLessThanOrEqual(10);
  });

  it('does nothing without packets, or with one layer', () => {
    const chooser = new LayerChooser(3);
    for (let i = 0; i < 5; i++) chooser.observe({ packetsSent: 0, packetsLost: 0, rttMs: null });
    expect(chooser.layer).toBe(0);
    const single = new LayerChooser(1);
    for (let i = 0; i < 5; i++) single.observe(lossy);
    expect(single.layer).toBe(0);
  });
});
