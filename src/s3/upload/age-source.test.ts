import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ageEncrypted } from './age-source.js';
import { PartDigester } from '../etag.js';
import { readInto } from '../../archive/verify-zip.js';

test('the zip streamed through age decrypts to the same bytes; size known up front; the plain sha256 is checked', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'age-source-'));
  try {
    const plain = randomBytes(3 * 1024 * 1024 + 12345);
    const file = path.join(dir, 'snap.zip');
    await writeFile(file, plain);
    const sha256 = createHash('sha256').update(plain).digest('hex');
    const identity = await generateX25519Identity();
    const handle = await open(file);
    try {
      const source = await ageEncrypted({ handle, size: plain.length, sha256, displayPath: 'snap.zip' }, [await identityToRecipient(identity)]);
      assert.equal(source.sha256, sha256);
      assert.equal(source.metadata?.['plain-size'], String(plain.length));
      const digester = new PartDigester();
      const part = 1024 * 1024;
      for (let at = 0; at < source.size; at += part) {
        const length = Math.min(part, source.size - at);
        digester.addPart(await readInto(source.handle, Buffer.alloc(length), at, length));
      }
      const digest = digester.finish();
      assert.equal(digest.size, source.size);
      source.checkSent!(digest);
      await source.handle.close();
      // Decrypt what was read, again through a stream of the same bytes read a second time.
      const again = await ageEncrypted({ handle, size: plain.length, sha256, displayPath: 'snap.zip' }, [await identityToRecipient(identity)]);
      const bytes = await readInto(again.handle, Buffer.alloc(again.size), 0, again.size);
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity);
      assert.ok(Buffer.from(await decrypter.decrypt(bytes)).equals(plain));
      await again.handle.close();
      // A file whose bytes do not hash to the recorded sha256 is refused at the end.
      const wrong = await ageEncrypted({ handle, size: plain.length, sha256: '0'.repeat(64), displayPath: 'snap.zip' }, [await identityToRecipient(identity)]);
      const all = await readInto(wrong.handle, Buffer.alloc(wrong.size), 0, wrong.size);
      const d = new PartDigester();
      d.addPart(all);
      assert.throws(() => wrong.checkSent!(d.finish()), /changed while it was encrypted and uploaded/);
      await wrong.handle.close();
    } finally {
      await handle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
