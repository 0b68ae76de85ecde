import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AGE_CHUNK, ageEncrypted } from './age-source.js';
import { PartDigester } from '../etag.js';
import { readInto } from '../../archive/verify-zip.js';

/** Reads the source in order in parts of `part` bytes, as the upload does. */
async function readAll(source: Awaited<ReturnType<typeof ageEncrypted>>, part: number): Promise<{ bytes: Buffer; digester: PartDigester }> {
  const bytes = Buffer.alloc(source.size);
  const digester = new PartDigester();
  for (let at = 0; at < source.size; at += part) {
    const length = Math.min(part, source.size - at);
    const piece = await readInto(source.handle, Buffer.alloc(length), at, length);
    piece.copy(bytes, at);
    digester.addPart(piece);
  }
  return { bytes, digester };
}

test('age: what the upload reads decrypts (age-encryption) to the zip, for every boundary of the STREAM chunks; sizes known up front', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'age-source-'));
  const identity = await generateX25519Identity();
  const other = await generateX25519Identity();
  const recipients = [await identityToRecipient(identity), await identityToRecipient(other)];
  try {
    for (const size of [0, 1, AGE_CHUNK - 1, AGE_CHUNK, AGE_CHUNK + 1, 16 * AGE_CHUNK, 16 * AGE_CHUNK + 5, 3 * 1024 * 1024 + 12345]) {
      const plain = randomBytes(size);
      const file = path.join(dir, `snap-${size}.zip`);
      await writeFile(file, plain);
      const sha256 = createHash('sha256').update(plain).digest('hex');
      const handle = await open(file);
      try {
        const source = await ageEncrypted({ handle, size, sha256, displayPath: 'snap.zip' }, recipients);
        assert.equal(source.sha256, sha256, 'the recorded sha256 is the plain zip\'s');
        assert.equal(source.metadata?.['plain-size'], String(size));
        const { bytes, digester } = await readAll(source, 1024 * 1024 + 7);
        const digest = digester.finish();
        assert.equal(digest.size, source.size, `size ${size}: the announced ciphertext size is wrong`);
        source.checkSent!(digest);
        await source.handle.close();
        for (const who of [identity, other]) {
          const decrypter = new Decrypter();
          decrypter.addIdentity(who);
          assert.ok(Buffer.from(await decrypter.decrypt(bytes)).equals(plain), `size ${size}: does not decrypt to the zip`);
        }
      } finally {
        await handle.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('age: bytes that do not hash to the recorded sha256 are refused after the last part; reads out of order are refused', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'age-source-'));
  try {
    const plain = randomBytes(200_000);
    const file = path.join(dir, 'snap.zip');
    await writeFile(file, plain);
    const handle = await open(file);
    const recipient = await identityToRecipient(await generateX25519Identity());
    try {
      const wrong = await ageEncrypted({ handle, size: plain.length, sha256: '0'.repeat(64), displayPath: 'snap.zip' }, [recipient]);
      const { digester } = await readAll(wrong, 65_000);
      assert.throws(() => wrong.checkSent!(digester.finish()), /changed while it was encrypted and uploaded/);
      const source = await ageEncrypted({ handle, size: plain.length, sha256: '0'.repeat(64), displayPath: 'snap.zip' }, [recipient]);
      await assert.rejects(readInto(source.handle, Buffer.alloc(10), 100, 10), /read in order only/);
    } finally {
      await handle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
