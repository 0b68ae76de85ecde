import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeS3Error, isAccessDenied, isNotFound, isUnexplainedRefusal, redactSecrets, type S3Where } from './errors.js';

const ACCESS_KEY = 'AKIALABEXAMPLE000001';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** What the SDK throws: a ServiceException with name, Code (when the reply had a body), $metadata, maybe $response. */
function sdkError(fields: { name?: string; Code?: string; status?: number; message?: string; headers?: Record<string, string>; extra?: object }) {
  return Object.assign(new Error(fields.message ?? 'UnknownError'), {
    name: fields.name ?? fields.Code ?? 'Unknown',
    ...(fields.Code ? { Code: fields.Code } : {}),
    $fault: 'client',
    $metadata: { httpStatusCode: fields.status, attempts: 1 },
    ...(fields.headers ? { $response: { statusCode: fields.status, headers: fields.headers } } : {}),
    ...fields.extra,
  });
}

function nodeError(code: string, message: string) {
  return Object.assign(new Error(message), { code, $metadata: { attempts: 3 } });
}

const headBucket: S3Where = { endpoint: '127.0.3.1:7480', bucket: 'snapshots', region: 'us-east-1', operation: 'HeadBucket' };
const onKey: S3Where = { ...headBucket, key: 'rke/snap.zip', operation: 'HeadObject' };
const describe = (error: unknown, where = headBucket) => describeS3Error(error, where).message;

test('missing bucket: a bodiless 404 from HeadBucket, or NoSuchBucket', () => {
  const expected = 'bucket snapshots is not found at 127.0.3.1:7480; check --bucket-name (and --s3-endpoint)';
  assert.equal(describe(sdkError({ name: 'NotFound', status: 404 })), expected);
  assert.equal(describe(sdkError({ Code: 'NoSuchBucket', status: 404, message: 'The specified bucket does not exist' }), onKey), expected);
});

test('refused access: a bodiless 403 from HeadBucket, AccessDenied elsewhere', () => {
  assert.equal(
    describe(sdkError({ status: 403 })),
    'access to bucket snapshots denied at 127.0.3.1:7480: check the keys / the IAM policy',
  );
  assert.equal(
    describe(sdkError({ Code: 'AccessDenied', status: 403, message: 'Access Denied' }), onKey),
    'access denied at 127.0.3.1:7480 for HeadObject of s3://snapshots/rke/snap.zip: check the keys / the IAM policy',
  );
  assert.ok(isUnexplainedRefusal(sdkError({ status: 403 })));
  assert.equal(isUnexplainedRefusal(sdkError({ Code: 'AccessDenied', status: 403 })), false);
  assert.ok(isAccessDenied(sdkError({ status: 403 })));
  assert.ok(isAccessDenied(sdkError({ Code: 'AccessDenied', status: 403 })));
  assert.equal(isAccessDenied(sdkError({ Code: 'SignatureDoesNotMatch', status: 403 })), false);
});

test('wrong secret and unknown access key: said plainly, without the key', () => {
  const signature = sdkError({
    Code: 'SignatureDoesNotMatch',
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided.',
    extra: { AWSAccessKeyId: ACCESS_KEY, StringToSign: `AWS4-HMAC-SHA256 ${ACCESS_KEY}` },
  });
  const signatureMessage = describe(signature);
  assert.equal(
    signatureMessage,
    'S3 endpoint 127.0.3.1:7480 refused the request signature for bucket snapshots: the secret key does not match the access key',
  );
  const unknown = describe(sdkError({ Code: 'InvalidAccessKeyId', status: 403, extra: { AWSAccessKeyId: ACCESS_KEY } }));
  assert.equal(unknown, 'the access key is not known to 127.0.3.1:7480 (bucket snapshots); check --access-key');
  for (const message of [signatureMessage, unknown]) assert.ok(!message.includes(ACCESS_KEY) && !message.includes(SECRET_KEY));
});

test('the bucket is in another region: name the region to pass', () => {
  const aws = { ...headBucket, endpoint: 's3.amazonaws.com' };
  assert.equal(
    describe(sdkError({ status: 301, headers: { 'x-amz-bucket-region': 'eu-west-1' } }), aws),
    'bucket snapshots is in region eu-west-1, not us-east-1: pass --region eu-west-1',
  );
  assert.equal(
    describe(sdkError({ status: 400, headers: { 'x-amz-bucket-region': 'ap-south-1' } }), aws),
    'bucket snapshots is in region ap-south-1, not us-east-1: pass --region ap-south-1',
  );
  assert.equal(
    describe(sdkError({ Code: 'AuthorizationHeaderMalformed', status: 400, extra: { Region: 'eu-central-1' } }), aws),
    'bucket snapshots is in region eu-central-1, not us-east-1: pass --region eu-central-1',
  );
  assert.equal(
    describe(sdkError({ Code: 'PermanentRedirect', status: 301 }), aws),
    'bucket snapshots is in another region than us-east-1 at s3.amazonaws.com; pass its region with --region',
  );
  // A self-hosted server names its own zone group on any reply: not a redirect.
  assert.match(describe(sdkError({ status: 403, headers: { 'x-amz-bucket-region': 'default' } })), /^access to bucket snapshots denied/);
});

test('TLS: an unknown CA suggests --s3-endpoint-ca; other certificate problems are named', () => {
  for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
    assert.equal(
      describe(nodeError(code, 'self-signed certificate in certificate chain')),
      `TLS to S3 endpoint 127.0.3.1:7480 failed: its certificate is not signed by a trusted CA (${code}); pass the CA's PEM file with --s3-endpoint-ca (or custom_ca in cluster.yml)`,
    );
  }
  assert.match(describe(nodeError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")), /not valid for that host name/);
  assert.match(describe(nodeError('CERT_HAS_EXPIRED', 'certificate has expired')), /outside its validity period .*clock/);
  assert.match(describe(nodeError('EPROTO', 'wrong version number')), /TLS to S3 endpoint 127\.0\.3\.1:7480 failed: wrong version number \(EPROTO\); is it an HTTPS endpoint\?/);
});

test('network: refused, unresolvable, timeouts', () => {
  assert.equal(
    describe(nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.3.1:7480')),
    'cannot reach S3 endpoint 127.0.3.1:7480 (HeadBucket of bucket snapshots): connection refused (ECONNREFUSED); check --s3-endpoint and that the server is up and reachable from this node',
  );
  assert.match(describe(nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere')), /host name not found \(ENOTFOUND\)/);
  const connectTimeout = Object.assign(new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 10000 ms.'), { name: 'TimeoutError' });
  assert.equal(
    describe(connectTimeout),
    'cannot connect to S3 endpoint 127.0.3.1:7480: no connection within the timeout (HeadBucket); check --s3-endpoint and the network from this node',
  );
  const idle = Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 60000 ms of inactivity'), { name: 'TimeoutError' });
  assert.equal(describe(idle, { ...onKey, operation: 'upload' }), 'S3 endpoint 127.0.3.1:7480 stopped answering during upload of s3://snapshots/rke/snap.zip (no data within the timeout)');
});

test('anything else: operation, object, endpoint, code and status on one line', () => {
  assert.equal(
    describe(sdkError({ Code: 'InternalError', status: 500, message: 'We encountered an internal error.\nPlease try again.' }), onKey),
    'S3 HeadObject of s3://snapshots/rke/snap.zip at 127.0.3.1:7480 failed: We encountered an internal error. Please try again. (InternalError, HTTP 500)',
  );
  assert.match(describe(new Error('boom'), onKey), /failed: boom$/);
  assert.match(describe(sdkError({ Code: 'RequestTimeTooSkewed', status: 403 })), /clock is too far off/);
});

test('not found, for HeadObject', () => {
  assert.ok(isNotFound(sdkError({ name: 'NotFound', status: 404 })));
  assert.ok(isNotFound(sdkError({ Code: 'NoSuchKey', status: 404 })));
  assert.equal(isNotFound(sdkError({ status: 403 })), false);
});

test('the message never carries fields of the error other than its message', () => {
  const error = sdkError({ Code: 'SomethingNew', status: 400, message: 'odd request', extra: { AWSAccessKeyId: ACCESS_KEY, SecretKey: SECRET_KEY } });
  const message = describe(error, onKey);
  assert.ok(!message.includes(ACCESS_KEY) && !message.includes(SECRET_KEY), message);
});

test('redactSecrets replaces every occurrence and ignores absent or tiny values', () => {
  assert.equal(redactSecrets(`a ${SECRET_KEY} b ${SECRET_KEY} ${ACCESS_KEY}`, [ACCESS_KEY, SECRET_KEY, undefined]), 'a [redacted] b [redacted] [redacted]');
  assert.equal(redactSecrets('abc', ['a']), 'abc');
});
