import { describe, expect, it } from 'vitest';
import { FramePacer } from '../../src/media/frame-pacer.js';

/** Offers frames at `every` ms for `ms` (writing whenever the pacer allows); the write times. */
function run(pacer: FramePacer, every: number, ms: number, start = 0): number[] {
  const writes: number[] = [];
  for (let now = start; now < start + ms; now += every) {
    if (pacer.waitMs(now) > 0) continue; // dropped: a newer frame replaces it
    pacer.wrote(now);
    writes.push(now);
  }
  return writes;
}

describe('screencast frame pacer', () => {
  it('holds a 60 Hz source to 30 FPS on a fixed grid', () => {
    const writes = run(new FramePacer(30), 1000 / 60, 10_000);
    expect(writes.length).toBeGreaterThanOrEqual(299);
    expect(writes.length).toBeLessThanOrEqual(301);
  });

  it('passes a source slower than the rate untouched', () => {
    expect(run(new FramePacer(30), 50, 1000)).toHaveLength(20);
  });

  it('lets a frame a little early go at once, without raising the rate', () => {
    const pacer = new FramePacer(10); // 100 ms grid
    pacer.wrote(0); // a first write may itself have been early: the next slot is at 75
    expect(pacer.waitMs(50)).toBe(0); // within a quarter interval of its slot
    expect(pacer.waitMs(40)).toBe(35); // too early: wait for the slot
    // Frames at 80, 180, 280…: each early by 20 ms, the grid still one per 100 ms.
    const writes = run(pacer, 100, 1000, 80);
    expect(writes).toEqual([80, 180, 280, 380, 480, 580, 680, 780, 880, 980]);
  });

  it('does not burst to catch up after a pause', () => {
    const pacer = new FramePacer(30);
    pacer.wrote(0);
    // Nothing for 5 s, then a 60 Hz source again: 30 FPS from there on, not a backlog of 150 frames.
    const writes = run(pacer, 1000 / 60, 1000, 5000);
    expect(writes.length).toBeGreaterThanOrEqual(29);
    expect(writes.length).toBeLessThanOrEqual(31);
  });

  it('follows a new rate and starts over after a reset', () => {
    const pacer = new FramePacer(30);
    pacer.setFps(5);
    const writes = run(pacer, 1000 / 60, 2000);
    expect(writes.length).toBeGreaterThanOrEqual(10);
    expect(writes.length).toBeLessThanOrEqual(11);
    pacer.wrote(3000);
    expect(pacer.waitMs(3010)).toBeGreaterThan(0);
    pacer.reset();
    expect(pacer.waitMs(3010)).toBe(0);
  });
});
