import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/core/checkpoint.ts';
import { type CustodyEvent, custodyWindows, parseExplorerQuery, rowOfCheck, verificationPicture } from '../../src/core/explorer.ts';
import type { AnyVerification } from '../../src/core/verify-any.ts';

const GTIN = '04012345555516';

describe('parseExplorerQuery', () => {
  it('reads SGTIN URNs, Digital Links (any host, http or path only), element strings, GTIN + lot and SSCCs', () => {
    expect(parseExplorerQuery(' urn:epc:id:sgtin:4012345.055551.P1 ')).toEqual({ ok: true, value: { kind: 'item', sgtin: 'urn:epc:id:sgtin:4012345.055551.P1' } });
    const item = { ok: true, value: { kind: 'item', digitalLink: `https://id.gs1.org/01/${GTIN}/21/P%2F1` } };
    expect(parseExplorerQuery(`https://brand.example/01/${GTIN}/21/P%2F1`)).toEqual(item);
    expect(parseExplorerQuery(`http://localhost:3000/item/01/${GTIN}/10/L1/21/P%2F1?x=1`)).toEqual(item);
    expect(parseExplorerQuery(`/01/${GTIN}/21/P%2F1`)).toEqual(item);
    expect(parseExplorerQuery(`(01)${GTIN}(21)P/1`)).toEqual(item);
    const batch = { ok: true, value: { kind: 'batch', gtin14: GTIN, lot: 'SC1' } };
    expect(parseExplorerQuery(`https://id.gs1.org/01/${GTIN}/10/SC1`)).toEqual(batch);
    expect(parseExplorerQuery(`${GTIN} SC1`)).toEqual(batch);
    expect(parseExplorerQuery(`4012345555516/SC1`)).toEqual(batch);
    expect(parseExplorerQuery(`(01)${GTIN}(10)SC1`)).toEqual(batch);
    expect(parseExplorerQuery('340123450000000017')).toEqual({ ok: true, value: { kind: 'container', sscc18: '340123450000000017' } });
    expect(parseExplorerQuery('(00)340123450000000017')).toEqual({ ok: true, value: { kind: 'container', sscc18: '340123450000000017' } });
    expect(parseExplorerQuery('urn:epc:id:sscc:4012345.3000000001')).toEqual({ ok: true, value: { kind: 'container', sscc18: '340123450000000017' } });
  });

  it('says what is wrong with anything else', () => {
    expect(parseExplorerQuery('')).toMatchObject({ ok: false });
    expect(parseExplorerQuery('340123450000000018')).toEqual({ ok: false, error: 'SSCC check digit is 8, expected 7' });
    expect(parseExplorerQuery(`https://id.gs1.org/01/${GTIN}`)).toMatchObject({ ok: false, error: expect.stringMatching(/names a product/) });
    expect(parseExplorerQuery(`04012345555517 L1`)).toMatchObject({ ok: false, error: expect.stringMatching(/check digit/) });
    expect(parseExplorerQuery('urn:epc:id:sgtin:nope')).toMatchObject({ ok: false });
    expect(parseExplorerQuery(GTIN)).toMatchObject({ ok: false, error: expect.stringMatching(/18 digits/) });
    expect(parseExplorerQuery('hello')).toMatchObject({ ok: false, error: expect.stringMatching(/^not an SGTIN/) });
  });
});

describe('custodyWindows', () => {
  const ev = (kind: CustodyEvent['kind'], at: string, actor: string, counterparty: string | null = null): CustodyEvent => ({ kind, occurredAt: at, actor, counterparty });

  it('follows the lifecycle custody rules: SHIP keeps custody until RECEIVE, RETURN and SELL hand it over at once', () => {
    const w = custodyWindows([
      ev('COMMISSION', 't0', 'Maker'),
      ev('PACK', 't1', 'Maker'),
      ev('SHIP', 't2', 'Maker', 'Dist'),
      ev('RECEIVE', 't3', 'Dist'),
      ev('SELL', 't4', 'Dist', 'Owner'),
      ev('SERVICE', 't5', 'Servicer'),
      ev('RETURN', 't6', 'Owner', 'Shop'),
    ]);
    expect(w).toEqual([
      { holder: 'Maker', from: 't0', until: 't3', startedBy: 'COMMISSION', endedBy: 'RECEIVE', inTransitTo: null },
      { holder: 'Dist', from: 't3', until: 't4', startedBy: 'RECEIVE', endedBy: 'SELL', inTransitTo: null },
      { holder: 'Owner', from: 't4', until: 't6', startedBy: 'SELL', endedBy: 'RETURN', inTransitTo: null },
      { holder: 'Shop', from: 't6', until: null, startedBy: 'RETURN', endedBy: null, inTransitTo: null },
    ]);
  });

  it('marks goods in transit, and starts from the first visible event of a partial history', () => {
    expect(custodyWindows([ev('COMMISSION', 't0', 'Maker'), ev('SHIP', 't1', 'Maker', 'Dist')])).toEqual([
      { holder: 'Maker', from: 't0', until: null, startedBy: 'COMMISSION', endedBy: null, inTransitTo: 'Dist' },
    ]);
    expect(custodyWindows([ev('SHIP', 't5', 'Dist', 'Shop'), ev('RECEIVE', 't6', 'Shop')])).toEqual([
      { holder: 'Dist', from: 't5', until: 't6', startedBy: 'SHIP', endedBy: 'RECEIVE', inTransitTo: null },
      { holder: 'Shop', from: 't6', until: null, startedBy: 'RECEIVE', endedBy: null, inTransitTo: null },
    ]);
    // A sale without a named buyer leaves the seller holding it.
    expect(custodyWindows([ev('COMMISSION', 't0', 'M'), ev('SELL', 't1', 'M')])).toHaveLength(1);
  });
});

describe('verificationPicture', () => {
  const checkpoint = `${formatCheckpoint({ origin: 'o/log', size: 7, rootHash: new Uint8Array(32) })}\n— o/log AAAA\n`;
  const bundle = { format: 'provenant-proof-bundle/v1', item: { headSeq: 2 }, events: [{}, {}, {}], checkpoint };
  const key = 'o/log+0a0b0c0d+AQ';

  it('names the failed check, its seq and message, and leaves the other rows not established', () => {
    const v: AnyVerification = { ok: false, kind: 'bundle-v1', failure: { item: 'x', seq: 3, check: 'inclusion', message: 'bad proof' } };
    const p = verificationPicture(v, bundle, { keptSize: null, key, sgtin: 'x' });
    expect(p.ok).toBe(false);
    expect(p.headline).toBe('FAILED (inclusion) at seq 3: bad proof');
    expect(p.rows.map((r) => [r.row, r.state])).toEqual([
      ['signature', 'not-established'], ['chain', 'not-established'], ['inclusion', 'failed'], ['completeness', 'not-established'], ['consistency', 'not-established'],
    ]);
    const noSeq = verificationPicture({ ok: false, kind: 'bundle-v2', failure: { item: 'x', seq: null, check: 'consistency', message: 'rewritten' } }, bundle, { keptSize: 3, key, sgtin: 'x' });
    expect(noSeq.headline).toBe('FAILED (consistency): rewritten');
    expect(rowOfCheck('item-tree')).toBe('chain');
    expect(rowOfCheck('head')).toBe('completeness');
  });

  it('on success says what each row proved, consistency only with a kept checkpoint', () => {
    const v: AnyVerification = { ok: true, kind: 'bundle-v1', item: 'x', summary: '' };
    const p = verificationPicture(v, bundle, { keptSize: null, key, sgtin: 'x' });
    expect(p).toMatchObject({ ok: true, treeSize: 7, headline: 'Verified in this browser: 3 events, checkpoint 7' });
    expect(p.rows.map((r) => r.state)).toEqual(['ok', 'ok', 'ok', 'ok', 'not-checked']);
    expect(p.rows[0]!.text).toContain('o/log+0a0b0c0d');
    const kept = verificationPicture(v, bundle, { keptSize: 5, key, sgtin: 'x' });
    expect(kept.rows[4]).toMatchObject({ state: 'ok', text: 'the log of size 7 extends your kept checkpoint of size 5' });
    // A valid bundle of another item proves nothing about this one.
    expect(verificationPicture(v, bundle, { keptSize: null, key, sgtin: 'y' })).toMatchObject({ ok: false, headline: 'FAILED (item): the bundle proves the history of x, not of y' });
    // An item statement is not a bundle: the picture refuses it rather than claiming a history.
    const st = verificationPicture({ ok: true, kind: 'item-statement', item: 'x', summary: '' }, {}, { keptSize: null, key, sgtin: 'x' });
    expect(st).toMatchObject({ ok: false, headline: 'FAILED (format): item-statement is not a proof bundle' });
  });
});
