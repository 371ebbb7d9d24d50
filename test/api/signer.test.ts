import { describe, expect, it } from 'vitest';
import { formatCheckpoint, signNote, verifyNote } from '../../src/core/checkpoint.ts';
import { signCheckpoint } from '../../src/db/log.ts';
import { testSigner } from '../helpers/server.ts';

describe('native checkpoint signer', () => {
  it('produces byte-identical notes to core signNote (Ed25519 is deterministic) that verify with the log key', () => {
    for (let size = 1; size < 20; size++) {
      const signer = testSigner(`example.org/log${size}`);
      const text = formatCheckpoint({ origin: signer.origin, size, rootHash: new Uint8Array(32).fill(size) });
      const native = signCheckpoint(signer, text);
      expect(native).toBe(signNote(text, signer.origin, signer.seed));
      expect(verifyNote(native, [signer.verifierKey]).ok).toBe(true);
      expect(verifyNote(native, [testSigner(signer.origin).verifierKey]).ok).toBe(false);
    }
  });
});
