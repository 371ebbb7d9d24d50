import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  decodeBase64,
  encodeBase64,
  formatCheckpoint,
  keyId,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  publicKeyFromPrivate,
  signerKeyString,
  signNote,
  SIG_TYPE,
  verifierKeyString,
  verifyCheckpoint,
  verifyNote,
} from '../../src/core/checkpoint.ts';

const v = JSON.parse(readFileSync(new URL('../vectors/ledger/signed-note-vectors.json', import.meta.url), 'utf8'));
type Case = Record<string, any> & { id: string; op: string };
const cases: Case[] = v.cases;
const keys: Record<string, { vkey: string; skey?: string; ed25519_seed_hex?: string; public_key_hex?: string }> = v.keys;
const vkeyOf = (name: string): string => keys[name]!.vkey;
const byId = (id: string): Case => {
  const c = cases.find((x) => x.id === id);
  if (!c) throw new Error(`missing vector ${id}`);
  return c;
};
const handled = new Set<string>();
const use = (id: string): Case => {
  handled.add(id);
  return byId(id);
};

const peterSeed = (() => {
  const r = parseSignerKey(keys.PeterNeumann!.skey!);
  if (!r.ok) throw new Error(r.error);
  return r.value.seed;
})();
const enochSeed = new Uint8Array(32);
const seed17 = hexToBytes(keys['sigsum-test-log']!.ed25519_seed_hex!);
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";

/** Replace the base64 blob of signature line `line` (0-based) by f(blob). */
function mutateSig(note: string, line: number, f: (b: Uint8Array) => void): string {
  const split = note.lastIndexOf('\n\n');
  const lines = note.slice(split + 2, -1).split('\n');
  const l = lines[line]!;
  const sp = l.lastIndexOf(' ');
  const blob = decodeBase64(l.slice(sp + 1), false)!;
  f(blob);
  lines[line] = l.slice(0, sp + 1) + encodeBase64(blob);
  return note.slice(0, split + 2) + lines.join('\n') + '\n';
}

describe('keys', () => {
  it('PeterNeumann: skey round-trips, derived vkey equals the published one', () => {
    const sk = parseSignerKey(keys.PeterNeumann!.skey!);
    expect(sk.ok).toBe(true);
    if (!sk.ok) return;
    expect(sk.value.name).toBe('PeterNeumann');
    expect(bytesToHex(sk.value.keyId)).toBe('c74f20a3');
    expect(signerKeyString('PeterNeumann', sk.value.seed)).toBe(keys.PeterNeumann!.skey);
    expect(verifierKeyString('PeterNeumann', publicKeyFromPrivate(sk.value.seed))).toBe(vkeyOf('PeterNeumann'));
    const vk = parseVerifierKey(vkeyOf('PeterNeumann'));
    expect(vk.ok && vk.value).toEqual({
      name: 'PeterNeumann',
      keyId: hexToBytes('c74f20a3'),
      publicKey: sk.value.publicKey,
      type: 'ed25519',
    });
  });

  it('EnochRoot (zero seed), sigsum log (seed 0x11) and witness (type 0x04) derive their vkeys', () => {
    expect(verifierKeyString('EnochRoot', publicKeyFromPrivate(enochSeed))).toBe(vkeyOf('EnochRoot'));
    const pub17 = publicKeyFromPrivate(seed17);
    expect(bytesToHex(pub17)).toBe(keys['sigsum-test-log']!.public_key_hex);
    const logName = vkeyOf('sigsum-test-log').split('+')[0]!;
    expect(verifierKeyString(logName, pub17)).toBe(vkeyOf('sigsum-test-log'));
    expect(verifierKeyString('example.org/witness', pub17, SIG_TYPE.cosignatureV1)).toBe(vkeyOf('sigsum-test-witness'));
    expect(bytesToHex(keyId('example.org/witness', pub17, SIG_TYPE.cosignatureV1))).toBe('cacf2e50');
  });

  it('parses every published vkey, including ECDSA P-256 (key ID = SHA-256(SPKI)[:4])', () => {
    for (const [label, k] of Object.entries(keys)) {
      const r = parseVerifierKey(k.vkey);
      expect(r.ok, `${label}: ${JSON.stringify(r)}`).toBe(true);
      if (r.ok) expect(`${r.value.name}+${bytesToHex(r.value.keyId)}`).toBe(k.vkey.split('+').slice(0, 2).join('+'));
    }
    const rekor = parseVerifierKey(vkeyOf('rekor.sigstore.dev'));
    expect(rekor.ok && rekor.value.type).toBe('ecdsa-p256');
  });

  it('gomod-vkey-bad: rejects the listed keys, every substring and every single-byte increment', () => {
    const c = use('gomod-vkey-bad');
    expect(c.expected.ok).toBe(false);
    expect(c.inputs).toHaveLength(2);
    for (const s of c.inputs) expect(parseVerifierKey(s).ok, s).toBe(false);
    expect(parseVerifierKey(c.inputs[1]!)).toEqual({ ok: false, error: 'unknown verifier key algorithm 0x65' });
    const good = vkeyOf('PeterNeumann');
    let n = 0;
    for (let i = 0; i < good.length; i++) {
      for (let j = i; j <= good.length; j++) {
        if (i === 0 && j === good.length) continue;
        expect(parseVerifierKey(good.slice(i, j)).ok, good.slice(i, j)).toBe(false);
        n++;
      }
      const inc = good.slice(0, i) + String.fromCharCode(good.charCodeAt(i) + 1) + good.slice(i + 1);
      expect(parseVerifierKey(inc).ok, inc).toBe(false);
    }
    expect(n).toBeGreaterThan(2000);
    expect(parseVerifierKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW').ok).toBe(false);
  });

  it('signer and verifier key helpers reject bad input', () => {
    expect(() => verifierKeyString('bad name', new Uint8Array(32))).toThrow(RangeError);
    expect(() => verifierKeyString('a+b', new Uint8Array(32))).toThrow(RangeError);
    expect(() => verifierKeyString('ok', new Uint8Array(31))).toThrow(RangeError);
    expect(() => signerKeyString('', new Uint8Array(32))).toThrow(RangeError);
    expect(() => publicKeyFromPrivate(new Uint8Array(64))).toThrow(RangeError);
    const sk = keys.PeterNeumann!.skey!;
    expect(parseSignerKey(sk.replace('c74f20a3', 'c74f20a4'))).toEqual({ ok: false, error: 'signer key hash does not match its public key' });
    expect(parseSignerKey(sk.replace('PRIVATE', 'PUBLIC')).ok).toBe(false);
    expect(parseSignerKey(vkeyOf('PeterNeumann')).ok).toBe(false);
  });
});

describe('signing', () => {
  it('gomod-sign-deterministic reproduces the exact note', () => {
    const c = use('gomod-sign-deterministic');
    expect(c.signer).toBe('PeterNeumann');
    expect(signNote(c.text, 'PeterNeumann', peterSeed)).toBe(c.expected_note);
    expect(signNote(c.text, 'PeterNeumann', peterSeed)).toContain('\n\u2014 PeterNeumann ');
  });

  it('EnochRoot signature line in the TestOpen note is reproduced', () => {
    const note = byId('gomod-open-one-known').note_text as string;
    const enochLine = note.split('\n').find((l) => l.startsWith('\u2014 EnochRoot '))!;
    expect(signNote(TEXT, 'EnochRoot', enochSeed)).toBe(`${TEXT}\n${enochLine}\n`);
  });

  it('signNote enforces its preconditions', () => {
    expect(() => signNote('no newline', 'k', peterSeed)).toThrow(RangeError);
    expect(() => signNote('tab\there\n', 'k', peterSeed)).toThrow(RangeError);
    expect(() => signNote('lone \ud800\n', 'k', peterSeed)).toThrow(RangeError);
    expect(() => signNote('ok\n', 'bad name', peterSeed)).toThrow(RangeError);
    expect(() => signNote('ok\n', 'k', new Uint8Array(31))).toThrow(RangeError);
    // Text with embedded blank lines and non-ASCII still round-trips.
    const text = 'Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n';
    const vk = verifierKeyString('quasimodo.example/salvatore', publicKeyFromPrivate(enochSeed));
    const r = verifyNote(signNote(text, 'quasimodo.example/salvatore', enochSeed), [vk]);
    expect(r.ok && r.value.text).toBe(text);
  });
});

describe('verifyNote against signed-note vectors', () => {
  it('gomod-open-one-known', () => {
    const c = use('gomod-open-one-known');
    const r = verifyNote(c.note_text, c.verifiers.map(vkeyOf));
    expect(r).toEqual({
      ok: true,
      value: { text: c.expected.text, verifiedBy: c.expected.verified, unverified: c.expected.unverified, cosignatures: [] },
    });
  });

  it('gomod-open-both-known', () => {
    const c = use('gomod-open-both-known');
    const r = verifyNote(c.note_text, c.verifiers.map(vkeyOf));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.verifiedBy).toEqual(c.expected.verified);
    expect(r.value.unverified).toEqual(c.expected.unverified);
    expect(r.value.text).toBe(TEXT);
  });

  it('gomod-open-none-known', () => {
    const c = use('gomod-open-none-known');
    expect(verifyNote(c.note_text, c.verifiers.map(vkeyOf))).toEqual({ ok: false, error: c.expected.error });
  });

  it('gomod-open-corrupted-sig', () => {
    const c = use('gomod-open-corrupted-sig');
    expect(verifyNote(c.note_text, c.verifiers.map(vkeyOf))).toEqual({ ok: false, error: c.expected.error });
  });

  it('gomod-open-too-many-sigs (101 lines > limit 100)', () => {
    const c = use('gomod-open-too-many-sigs');
    expect((c.note_text as string).match(/^\u2014 /gm)).toHaveLength(101);
    expect(verifyNote(c.note_text, c.verifiers.map(vkeyOf))).toEqual({ ok: false, error: c.expected.error });
    // 16 (the C2SP minimum) and 100 identical lines are accepted.
    const lines = (c.note_text as string).split('\n');
    for (const n of [16, 100]) {
      const note = [...lines.slice(0, 3), ...lines.slice(3, 3 + n), ''].join('\n');
      const r = verifyNote(note, c.verifiers.map(vkeyOf));
      expect(r.ok && r.value.verifiedBy, `${n} sigs`).toEqual(['PeterNeumann+c74f20a3']);
    }
  });

  it('gomod-open-malformed: every bad message is malformed', () => {
    const c = use('gomod-open-malformed');
    expect(c.note_texts).toHaveLength(7);
    for (const t of c.note_texts as string[]) {
      const input: string | Uint8Array = t.startsWith('<0xff byte>')
        ? Uint8Array.from([0xff, ...utf8ToBytes(t.slice('<0xff byte>'.length))])
        : t;
      expect(verifyNote(input, c.verifiers.map(vkeyOf)), JSON.stringify(t.slice(0, 20))).toEqual({ ok: false, error: c.expected.error });
    }
  });

  it('c2sp-signed-note-example', () => {
    const c = use('c2sp-signed-note-example');
    const r = verifyNote(c.note_text, c.verifiers.map(vkeyOf));
    expect(r.ok && r.value.verifiedBy).toEqual(c.expected.verified);
    expect(r.ok && r.value.text).toBe('This is an example message.\n');
  });

  it('sumdb-real-checkpoint-2024-09-23 (origin differs from key name)', () => {
    const c = use('sumdb-real-checkpoint-2024-09-23');
    const r = verifyCheckpoint(c.note_text, c.verifiers.map(vkeyOf));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.origin).toBe(c.expected.origin);
    expect(r.value.size).toBe(c.expected.size);
    expect(encodeBase64(r.value.rootHash)).toBe(c.expected.root_hash_b64);
    expect(r.value.verifiedBy).toEqual([`sum.golang.org+${c.expected.key_id}`]);
    expect(verifyCheckpoint(c.note_text, c.verifiers.map(vkeyOf), 'go.sum database tree').ok).toBe(true);
    expect(verifyCheckpoint(c.note_text, c.verifiers.map(vkeyOf), 'sum.golang.org').ok).toBe(false);
  });

  it('sigsum-checkpoint-seed17: verifies, re-signs exactly, and every listed mutation fails', () => {
    const c = use('sigsum-checkpoint-seed17');
    const vk = c.verifiers.map(vkeyOf);
    const note = c.note_text as string;
    const r = verifyCheckpoint(note, vk);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.size).toBe(c.expected.size);
    expect(r.value.verifiedBy).toEqual([`${r.value.origin}+${c.expected.key_id}`]);
    const body = formatCheckpoint({ origin: r.value.origin, size: r.value.size, rootHash: r.value.rootHash });
    expect(signNote(body, r.value.origin, seed17)).toBe(note);

    expect(c.must_fail_mutations).toHaveLength(5);
    const [origin, size] = note.split('\n') as [string, string];
    const mutated = {
      "origin += 'x'": note.replace(`${origin}\n`, `${origin}x\n`),
      'key id byte 2 ^= 1': mutateSig(note, 0, (b) => void (b[2]! ^= 1)),
      'size + 1': note.replace(`\n${size}\n`, `\n${Number(size) + 1}\n`),
      'root hash byte 3 ^= 1': (() => {
        const root = r.value.rootHash.slice();
        root[3]! ^= 1;
        return note.replace(encodeBase64(r.value.rootHash), encodeBase64(root));
      })(),
      'signature byte 4 ^= 1': mutateSig(note, 0, (b) => void (b[4]! ^= 1)),
    } as Record<string, string>;
    for (const m of c.must_fail_mutations as string[]) {
      expect(mutated[m], m).toBeDefined();
      expect(mutated[m], m).not.toBe(note);
      const res = verifyCheckpoint(mutated[m]!, vk);
      expect(res.ok, m).toBe(false);
    }
    expect(verifyNote(mutated['key id byte 2 ^= 1']!, vk)).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    expect(verifyNote(mutated['signature byte 4 ^= 1']!, vk)).toEqual({
      ok: false,
      error: `invalid signature for key ${r.value.origin}+809da1a3`,
    });
  });

  it('sigsum-cosignature-lines: tlog-cosignature/v1 (0x04) witness lines', () => {
    const c = use('sigsum-cosignature-lines');
    const witness = vkeyOf(c.witness_key);
    const body = c.checkpoint_body as string;
    const ls = (c.lines as { line: string; expected: string }[]).map((l) => l.line);
    expect(ls).toHaveLength(4);
    const noteOf = (...lines: string[]): string => `${body}\n${lines.join('\n')}\n`;
    // Lines 0 (key ID c97f2e50) and 2 (name witness-2) are unknown keys and ignored; line 1 verifies at t=1234.
    const r = verifyNote(noteOf(ls[0]!, ls[1]!, ls[2]!), [witness]);
    expect(r).toEqual({
      ok: true,
      value: {
        text: body,
        verifiedBy: ['example.org/witness+cacf2e50'],
        unverified: ['example.org/witness+c97f2e50', 'example.org/witness-2+cacf2e50'],
        cosignatures: [{ key: 'example.org/witness+cacf2e50', timestamp: c.expected.verified_timestamp }],
      },
    });
    expect(verifyNote(noteOf(ls[0]!), [witness])).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    expect(verifyNote(noteOf(ls[2]!), [witness])).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    // Line 3 (78-byte blob) has the known name+ID, so signed-note rules verify it and reject the note
    // (sigsum-go drops it at parse instead; either way it never counts as a cosignature).
    expect(verifyNote(noteOf(ls[1]!, ls[3]!), [witness])).toEqual({ ok: false, error: 'invalid signature for key example.org/witness+cacf2e50' });
    // Mutation: timestamp + 1 on the valid line.
    const bumped = mutateSig(noteOf(ls[1]!), 0, (b) => void (b[11]! += 1));
    expect(verifyNote(bumped, [witness])).toEqual({ ok: false, error: 'invalid signature for key example.org/witness+cacf2e50' });
    // The same seed as a plain Ed25519 log key (0x01) has a different key ID: the cosignature is unknown to it.
    expect(verifyNote(noteOf(ls[1]!), [verifierKeyString('example.org/witness', publicKeyFromPrivate(seed17))]).ok).toBe(false);
  });

  it('rekor-v1-ecdsa-checkpoint (0x02 ECDSA P-256)', () => {
    const c = use('rekor-v1-ecdsa-checkpoint');
    const r = verifyCheckpoint(c.note_text, c.verifiers.map(vkeyOf));
    expect(r.ok).toBe(c.expected.ok);
    expect(r.ok && r.value.origin).toBe('Rekor');
    expect(r.ok && r.value.size).toBe(798034);
    expect(r.ok && r.value.verifiedBy).toEqual(['rekor.sigstore.dev+c0d23d6a']);
    const flipped = mutateSig(c.note_text, 0, (b) => void (b[20]! ^= 1));
    expect(verifyNote(flipped, c.verifiers.map(vkeyOf))).toEqual({ ok: false, error: 'invalid signature for key rekor.sigstore.dev+c0d23d6a' });
    expect(verifyNote((c.note_text as string).replace('798034', '798035'), c.verifiers.map(vkeyOf)).ok).toBe(false);
  });

  it('rekor-v1-ecdsa-wrong-name', () => {
    const c = use('rekor-v1-ecdsa-wrong-name');
    expect(parseVerifierKey(c.verifier_vkey).ok).toBe(true); // ECDSA key IDs do not cover the name
    expect(verifyNote(c.note_text, [c.verifier_vkey])).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    expect(c.expected.ok).toBe(false);
  });

  it('rekor-v1-ecdsa-bad-sig', () => {
    const c = use('rekor-v1-ecdsa-bad-sig');
    const r = verifyNote(c.note_text, c.verifiers.map(vkeyOf));
    expect(r).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    expect(c.expected.ok).toBe(false);
  });

  it('pixel-ecdsa-checkpoint', () => {
    const c = use('pixel-ecdsa-checkpoint');
    const r = verifyCheckpoint(c.note_text, c.verifiers.map(vkeyOf));
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toMatchObject({ origin: 'DEFAULT', size: 10, verifiedBy: ['pixel6_transparency_log+91c16e30'] });
  });

  it('c2sp-tlog-checkpoint-example: unverifiable as published; valid sig bytes over a different origin', () => {
    const c = use('c2sp-tlog-checkpoint-example');
    const note = c.note_text as string;
    expect(verifyNote(note, c.verifiers)).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    const parsed = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
    expect(parsed.ok && parsed.value.size).toBe(20852163);
    const sumdb = [vkeyOf('sum.golang.org')];
    const renamed = note.replace('\u2014 example.com/behind-the-sofa ', '\u2014 sum.golang.org ');
    // Signature bytes are sum.golang.org's, but over origin "go.sum database tree": the printed text fails…
    expect(verifyNote(renamed, sumdb)).toEqual({ ok: false, error: 'invalid signature for key sum.golang.org+033de0ae' });
    // …and the original text verifies.
    const original = renamed.replace('example.com/behind-the-sofa\n', 'go.sum database tree\n');
    expect(verifyCheckpoint(original, sumdb, 'go.sum database tree').ok).toBe(true);
  });

  it('every vector case is asserted', () => {
    expect(new Set(cases.map((c) => c.id))).toEqual(handled);
    expect(cases).toHaveLength(17);
  });
});

describe('corrupted variants and signed-note policy', () => {
  const good = signNote(TEXT, 'PeterNeumann', peterSeed);
  const peter = vkeyOf('PeterNeumann');
  const enoch = vkeyOf('EnochRoot');

  it('accepts the good note; text excludes the blank separator line', () => {
    expect(verifyNote(good, [peter])).toEqual({
      ok: true,
      value: { text: TEXT, verifiedBy: ['PeterNeumann+c74f20a3'], unverified: [], cosignatures: [] },
    });
    expect(verifyNote(utf8ToBytes(good), [peter]).ok).toBe(true);
  });

  it('flipping any byte of the signature (after the key ID) rejects', () => {
    for (let i = 4; i < 68; i++) {
      const bad = mutateSig(good, 0, (b) => void (b[i]! ^= 0x40));
      expect(verifyNote(bad, [peter]), `byte ${i}`).toEqual({ ok: false, error: 'invalid signature for key PeterNeumann+c74f20a3' });
    }
    const truncated = mutateSig(good, 0, () => undefined).replace(/[A-Za-z0-9+/]{4}=*\n$/, '\n');
    expect(verifyNote(truncated, [peter]).ok).toBe(false);
  });

  it('changing the body rejects', () => {
    expect(verifyNote(good.replace('cryptography', 'Cryptography'), [peter]).ok).toBe(false);
    expect(verifyNote('X' + good, [peter]).ok).toBe(false);
    expect(verifyNote(good.replace('problem is.\n', 'problem is!\n'), [peter])).toEqual({
      ok: false,
      error: 'invalid signature for key PeterNeumann+c74f20a3',
    });
  });

  it('a signature by another key under a known name+ID rejects; under its own name is ignored', () => {
    const forged = signNote(TEXT, 'EnochRoot', enochSeed).replace('\u2014 EnochRoot ', '\u2014 PeterNeumann ');
    const withPeterId = mutateSig(forged, 0, (b) => b.set(hexToBytes('c74f20a3'), 0));
    expect(verifyNote(withPeterId, [peter])).toEqual({ ok: false, error: 'invalid signature for key PeterNeumann+c74f20a3' });
    expect(verifyNote(signNote(TEXT, 'EnochRoot', enochSeed), [peter])).toEqual({ ok: false, error: 'note has no verifiable signatures' });
    // Same key bytes under a different name -> different key ID -> unknown key.
    expect(verifyNote(signNote(TEXT, 'Peter', peterSeed), [peter])).toEqual({ ok: false, error: 'note has no verifiable signatures' });
  });

  it('a known key with a bad signature rejects even if another known signature is fine', () => {
    const both = `${good}${signNote(TEXT, 'EnochRoot', enochSeed).slice(TEXT.length + 1)}`;
    expect(verifyNote(both, [peter, enoch]).ok).toBe(true);
    const badEnoch = mutateSig(both, 1, (b) => void (b[10]! ^= 1));
    expect(verifyNote(badEnoch, [peter, enoch])).toEqual({ ok: false, error: 'invalid signature for key EnochRoot+af0cfe78' });
    // Unknown to this verifier set: the bad Enoch line is ignored.
    expect(verifyNote(badEnoch, [peter]).ok).toBe(true);
    // A repeated known-key line with a bad signature also rejects (every known line is verified).
    const repeated = `${good}${mutateSig(good, 0, (b) => void (b[10]! ^= 1)).slice(TEXT.length + 1)}`;
    expect(verifyNote(repeated, [peter])).toEqual({ ok: false, error: 'invalid signature for key PeterNeumann+c74f20a3' });
  });

  it('malformed shapes: missing blank line, bad lines, bad names, bad base64, short blobs, bad UTF-8', () => {
    const sigLine = good.slice(TEXT.length + 1, -1);
    const blob = sigLine.split(' ')[2]!;
    const bad = [
      `${TEXT}${sigLine}\n`, // no blank line
      `${TEXT}\n${sigLine}`, // no final newline
      `${TEXT}\n${sigLine}\n\n`, // trailing blank line
      `${TEXT}\n- PeterNeumann ${blob}\n`, // hyphen instead of em dash
      `${TEXT}\n\u2014PeterNeumann ${blob}\n`, // no space after dash
      `${TEXT}\n\u2014 PeterNeumann\n`, // no signature
      `${TEXT}\n\u2014 PeterNeumann \n`, // empty signature
      `${TEXT}\n\u2014  ${blob}\n`, // empty name
      `${TEXT}\n\u2014 Peter+Neumann ${blob}\n`, // '+' in name
      `${TEXT}\n\u2014 Peter\u00a0Neumann ${blob}\n`, // Unicode space in name
      `${TEXT}\n\u2014 PeterNeumann ${blob.slice(0, -1)}\n`, // bad base64 length
      `${TEXT}\n\u2014 PeterNeumann ${blob} extra\n`, // extra field
      `${TEXT}\n\u2014 PeterNeumann ${encodeBase64(hexToBytes('c74f20a3'))}\n`, // 4-byte blob
      `${TEXT}\n\u2014 PeterNeumann ${blob}\r\n`, // CR
      `${TEXT.replace('\n', '\u0000\n')}\n${sigLine}\n`, // NUL
      `lone \ud83d surrogate\n\n${sigLine}\n`,
      '',
      '\n\n',
    ];
    for (const t of bad) expect(verifyNote(t, [peter]), JSON.stringify(t.slice(-40))).toEqual({ ok: false, error: 'malformed note' });
    expect(verifyNote(Uint8Array.from([0xed, 0xa0, 0x80, ...utf8ToBytes(good)]), [peter])).toEqual({ ok: false, error: 'malformed note' });
    // UTF-8 BOM is kept as part of the text (so the signature no longer matches).
    expect(verifyNote(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8ToBytes(good)]), [peter]).ok).toBe(false);
  });

  it('rejects an invalid or ambiguous verifier key list', () => {
    expect(verifyNote(good, ['not a key'])).toEqual({ ok: false, error: 'invalid verifier key: malformed verifier key' });
    const parsed = parseVerifierKey(peter);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(verifyNote(good, [parsed.value, peter]).ok).toBe(true);
    const clash = { ...parsed.value, publicKey: publicKeyFromPrivate(enochSeed) };
    expect(verifyNote(good, [parsed.value, clash])).toEqual({ ok: false, error: 'ambiguous verifier key PeterNeumann+c74f20a3' });
  });
});

describe('checkpoint bodies', () => {
  const root = hexToBytes('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');

  it('formats and parses, with extension lines', () => {
    const body = formatCheckpoint({ origin: 'provenant.example/log', size: 8, rootHash: root });
    expect(body).toBe('provenant.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n');
    expect(parseCheckpoint(body)).toEqual({ ok: true, value: { origin: 'provenant.example/log', size: 8, rootHash: root, extensions: [] } });
    const ext = formatCheckpoint({ origin: 'o', size: 0, rootHash: root, extensions: ['ext one', 'ext two'] });
    expect(ext.endsWith('\next one\next two\n')).toBe(true);
    expect(parseCheckpoint(ext)).toEqual({ ok: true, value: { origin: 'o', size: 0, rootHash: root, extensions: ['ext one', 'ext two'] } });
    const big = formatCheckpoint({ origin: 'o', size: Number.MAX_SAFE_INTEGER, rootHash: root });
    const parsedBig = parseCheckpoint(big);
    expect(parsedBig.ok && parsedBig.value.size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects malformed bodies', () => {
    const r64 = encodeBase64(root);
    const bad = [
      `o\n8\n${r64}`, // no final newline
      `o\n8\n`, // too few lines
      `\n8\n${r64}\n`, // empty origin
      `o\n08\n${r64}\n`, // leading zero
      `o\n+8\n${r64}\n`,
      `o\n-1\n${r64}\n`,
      `o\n8.0\n${r64}\n`,
      `o\n9007199254740992\n${r64}\n`, // 2^53
      `o\n8\n${r64.slice(0, -1)}\n`, // bad base64
      `o\n8\n${encodeBase64(root.slice(1))}\n`, // 31-byte root
      `o\n8\n${r64.slice(0, -2)}B=\n`, // non-canonical trailing bits
      `o\n8\n${r64}\n\n`, // empty extension line
      `o\t\n8\n${r64}\n`, // control character
    ];
    for (const b of bad) expect(parseCheckpoint(b).ok, JSON.stringify(b)).toBe(false);
    expect(() => formatCheckpoint({ origin: '', size: 1, rootHash: root })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: root })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: 'o', size: -1, rootHash: root })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1.5, rootHash: root })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: root.slice(1) })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: root, extensions: [''] })).toThrow(RangeError);
  });

  it('sign + verify round trip with origin check', () => {
    const seed = new Uint8Array(32).fill(7);
    const name = 'provenant.example/log';
    const note = signNote(formatCheckpoint({ origin: name, size: 8, rootHash: root }), name, seed);
    const vk = verifierKeyString(name, publicKeyFromPrivate(seed));
    const r = verifyCheckpoint(note, [vk], name);
    expect(r.ok && r.value.size).toBe(8);
    expect(verifyCheckpoint(note, [vk], 'other')).toEqual({
      ok: false,
      error: 'checkpoint origin "provenant.example/log" does not match expected "other"',
    });
    expect(verifyCheckpoint(signNote('just text\n', name, seed), [vk])).toEqual({ ok: false, error: 'checkpoint has 1 lines, expected at least 3' });
  });

  it('base64 helpers are strict RFC 4648', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) & 0xff);
      const s = encodeBase64(bytes);
      expect(s).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeBase64(s)).toEqual(bytes);
    }
    for (const s of ['A', 'AA', 'AAA', 'AA=A', '====', 'A===', 'AA==AA==', 'AB==', 'AAB=', '****']) {
      expect(decodeBase64(s), s).toBeUndefined();
    }
    expect(decodeBase64('AB==', false)).toEqual(Uint8Array.from([0]));
    expect(decodeBase64('')).toEqual(new Uint8Array(0));
  });
});
