import { describe, expect, it } from 'vitest';
import { fits, SessionRecordSchema, upgradedRecord } from '../../src/nats/record-schemas.js';

/** A record as a node of the registry's first version wrote it (before dialogs, permissions, popups…). */
const firstVersionRecord = {
  id: 'abc',
  owner: 'node-a',
  state: 'idle',
  spec: {
    url: 'https://example.com/',
    viewport: { width: 1280, height: 720 },
    fps: 30,
    quality: 80,
    capture: 'tab',
    priority: 5,
  },
  updatedAt: '2026-11-01T00:00:00.000Z',
};

describe('session records from older versions', () => {
  it('are taken, with the fields they predate filled in as those versions behaved', () => {
    expect(fits(SessionRecordSchema, firstVersionRecord)).toBe(false);
    const upgraded = upgradedRecord(firstVersionRecord);
    expect(fits(SessionRecordSchema, upgraded)).toBe(true);
    expect((upgraded as typeof firstVersionRecord).spec).toMatchObject({
      dialogs: 'surface',
      permissions: [],
      ignoreHttpsErrors: false,
      popups: 'tabs',
    });
  });

  it('keep what they say, and are still refused when what they say is wrong', () => {
    const own = {
      ...firstVersionRecord,
      spec: { ...firstVersionRecord.spec, popups: 'block', dialogs: 'accept' },
    };
    expect((upgradedRecord(own) as typeof own).spec).toMatchObject({ popups: 'block', dialogs: 'accept' });
    const wrong = { ...firstVersionRecord, spec: { ...firstVersionRecord.spec, popups: 'everywhere' } };
    expect(fits(SessionRecordSchema, upgradedRecord(wrong))).toBe(false);
    const foreign = { ...firstVersionRecord, spec: { ...firstVersionRecord.spec, url: 42 } };
    expect(fits(SessionRecordSchema, upgradedRecord(foreign))).toBe(false);
    expect(upgradedRecord('not a record')).toBe('not a record');
  });
});
