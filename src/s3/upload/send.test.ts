import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { sendBodyInPieces } from './body.js';

interface Attempt {
  bodyIsStream: boolean;
  bytes: Buffer;
  headers: Record<string, string>;
}

/** A real S3Client over a fake transport: the first attempt gets a 500, the next ones a 200. */
function clientRecording(attempts: Attempt[]): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'https://fake.s3',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      async handle(request: { body?: unknown; headers: Record<string, string> }) {
        const bodyIsStream = request.body instanceof Readable;
        const chunks: Buffer[] = [];
        if (bodyIsStream) for await (const chunk of request.body as Readable) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        attempts.push({ bodyIsStream, bytes, headers: request.headers });
        const md5 = createHash('md5').update(bytes).digest('hex');
        const failed = attempts.length === 1;
        return {
          response: {
            statusCode: failed ? 500 : 200,
            headers: failed ? { 'content-type': 'application/xml' } : { etag: `"${md5}"` },
            body: Readable.from(failed ? [Buffer.from('<Error><Code>InternalError</Code><Message>try again</Message></Error>')] : []),
          },
        };
      },
    } as never,
  });
}

test('a part goes to the socket as a stream of slices, unsigned, and a retried request sends the whole part again', async () => {
  const part = randomBytes(3 * 256 * 1024 + 5);
  const md5 = createHash('md5').update(part).digest();
  const attempts: Attempt[] = [];
  const client = clientRecording(attempts);
  const command = new UploadPartCommand({
    Bucket: 'snapshots',
    Key: 'rke/snap.zip',
    UploadId: 'upload-1',
    PartNumber: 1,
    Body: part,
    ContentLength: part.length,
    ContentMD5: md5.toString('base64'),
  });
  const output = await client.send(sendBodyInPieces(command, part));
  assert.equal(output.ETag, `"${md5.toString('hex')}"`);
  assert.equal(attempts.length, 2);
  for (const attempt of attempts) {
    assert.ok(attempt.bodyIsStream);
    assert.deepEqual(attempt.bytes, part);
    assert.equal(attempt.headers['content-md5'], md5.toString('base64'));
    // Not hashed again for the signature: Content-MD5 covers the payload.
    assert.equal(attempt.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.match(attempt.headers.authorization ?? '', /SignedHeaders=[^,]*x-amz-content-sha256/);
  }
});
