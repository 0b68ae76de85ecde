import { OperatorError, messageOf, oneLine } from '../errors.js';

/** What a failed S3 call was about, for the operator's message. */
export interface S3Where {
  endpoint: string;
  bucket: string;
  /** The object key, for object operations. */
  key?: string;
  /** The region the client used, for the wrong-region message. */
  region: string;
  /** e.g. 'HeadBucket', 'upload'. */
  operation: string;
}

/** The parts of an SDK (or Node network) error that we read; all optional. */
interface SdkErrorFields {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  Region?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { headers?: Record<string, unknown> };
}

const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

const NETWORK_MEANINGS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
};

/**
 * The error code S3 (or Node) gave, if any. An SDK error (it has $metadata) is named
 * after the code; for a bodiless reply (HEAD) it is named "Unknown" (or "NotFound").
 */
export function s3ErrorCode(error: unknown): string | undefined {
  const fields = fieldsOf(error);
  const sdkName = fields.$metadata === undefined ? undefined : fields.name;
  for (const candidate of [fields.Code, fields.code, sdkName]) {
    if (typeof candidate === 'string' && candidate !== '' && !/^(Unknown(Error)?|Error)$/.test(candidate)) return candidate;
  }
  return undefined;
}

export function httpStatusOf(error: unknown): number | undefined {
  const status = fieldsOf(error).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** S3 answered "not found" (for HEAD: a bodiless 404). */
export function isNotFound(error: unknown): boolean {
  const code = s3ErrorCode(error);
  return code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchBucket' || httpStatusOf(error) === 404;
}

/** Permission refused (also a bodiless 403 from a HEAD, which may hide a signature error: see upload-preflight.ts). */
export function isAccessDenied(error: unknown): boolean {
  const code = s3ErrorCode(error);
  return code === 'AccessDenied' || ((code === undefined || code === 'Forbidden') && httpStatusOf(error) === 403);
}

/** A bodiless 403 (from a HEAD call): wrong secret, unknown key or policy; only a reply with a body says which. */
export function isUnexplainedRefusal(error: unknown): boolean {
  return s3ErrorCode(error) === undefined && httpStatusOf(error) === 403;
}

/**
 * One line for the operator: what failed (bucket, key, endpoint), why, and what to do.
 * Never includes the error's other fields (an S3 error may carry the access key id).
 */
export function describeS3Error(error: unknown, where: S3Where): OperatorError {
  const text = tlsProblem(error, where) ?? networkProblem(error, where) ?? s3Problem(error, where);
  return new OperatorError(text, { cause: error });
}

function tlsProblem(error: unknown, where: S3Where): string | undefined {
  const code = stringField(fieldsOf(error).code);
  if (code === undefined) return undefined;
  if (UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return `TLS to S3 endpoint ${where.endpoint} failed: its certificate is not signed by a trusted CA (${code}); pass the CA's PEM file with --s3-endpoint-ca (or custom_ca in cluster.yml)`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS to S3 endpoint ${where.endpoint} failed: its certificate is not valid for that host name (${code}); use the host name the certificate names in --s3-endpoint`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `TLS to S3 endpoint ${where.endpoint} failed: its certificate is outside its validity period (${code}); renew it or check this node's clock`;
  }
  if (/^(ERR_TLS_|ERR_SSL_|EPROTO$)/.test(code)) {
    return `TLS to S3 endpoint ${where.endpoint} failed: ${messageOf(error)} (${code}); is it an HTTPS endpoint?`;
  }
  return undefined;
}

function networkProblem(error: unknown, where: S3Where): string | undefined {
  const fields = fieldsOf(error);
  const code = stringField(fields.code);
  if (fields.name === 'TimeoutError' || code === 'ETIMEDOUT') {
    const connecting = /establish a connection|connect ETIMEDOUT/i.test(messageOf(error));
    return connecting
      ? `cannot connect to S3 endpoint ${where.endpoint}: no connection within the timeout (${where.operation}); check --s3-endpoint and the network from this node`
      : `S3 endpoint ${where.endpoint} stopped answering during ${where.operation} of ${objectName(where)} (no data within the timeout)`;
  }
  const meaning = code === undefined ? undefined : NETWORK_MEANINGS[code];
  if (meaning === undefined) return undefined;
  return `cannot reach S3 endpoint ${where.endpoint} (${where.operation} of ${objectName(where)}): ${meaning} (${code}); check --s3-endpoint and that the server is up and reachable from this node`;
}

function s3Problem(error: unknown, where: S3Where): string {
  const code = s3ErrorCode(error);
  const status = httpStatusOf(error);
  const otherRegion = bucketRegion(error);
  const redirected = status === 301 || code === 'PermanentRedirect';
  const wrongRegion = status === 400 && otherRegion !== undefined && otherRegion !== where.region;
  if (redirected || wrongRegion) {
    return otherRegion === undefined
      ? `bucket ${where.bucket} is in another region than ${where.region} at ${where.endpoint}; pass its region with --region`
      : `bucket ${where.bucket} is in region ${otherRegion}, not ${where.region}: pass --region ${otherRegion}`;
  }
  if (code === 'NoSuchBucket' || (status === 404 && where.operation === 'HeadBucket')) {
    return `bucket ${where.bucket} is not found at ${where.endpoint}; check --bucket-name (and --s3-endpoint)`;
  }
  if (code === 'SignatureDoesNotMatch') {
    return `S3 endpoint ${where.endpoint} refused the request signature for bucket ${where.bucket}: the secret key does not match the access key`;
  }
  if (code === 'InvalidAccessKeyId') return `the access key is not known to ${where.endpoint} (bucket ${where.bucket}); check --access-key`;
  if (code === 'ExpiredToken' || code === 'InvalidToken' || code === 'TokenRefreshRequired') {
    return `S3 endpoint ${where.endpoint} refused the temporary credentials (${code}) for bucket ${where.bucket}; check the node's IAM role`;
  }
  if (code === 'RequestTimeTooSkewed') {
    return `S3 endpoint ${where.endpoint} refused the request: this node's clock is too far off (RequestTimeTooSkewed); synchronise it (NTP)`;
  }
  if (isAccessDenied(error)) {
    return where.operation === 'HeadBucket'
      ? `access to bucket ${where.bucket} denied at ${where.endpoint}: check the keys / the IAM policy`
      : `access denied at ${where.endpoint} for ${where.operation} of ${objectName(where)}: check the keys / the IAM policy`;
  }
  const detail = [code, status === undefined ? undefined : `HTTP ${status}`].filter((part) => part !== undefined).join(', ');
  return `S3 ${where.operation} of ${objectName(where)} at ${where.endpoint} failed: ${oneLine(messageOf(error))}${detail === '' ? '' : ` (${detail})`}`;
}

/** The bucket's real region, when S3 says it (redirect header, or the Region of an AuthorizationHeaderMalformed reply). */
export function bucketRegion(error: unknown): string | undefined {
  const fields = fieldsOf(error);
  const header = fields.$response?.headers?.['x-amz-bucket-region'];
  if (typeof header === 'string' && header !== '') return header;
  return stringField(fields.Region);
}

function objectName(where: S3Where): string {
  return where.key === undefined ? `bucket ${where.bucket}` : `s3://${where.bucket}/${where.key}`;
}

function fieldsOf(error: unknown): SdkErrorFields {
  return typeof error === 'object' && error !== null ? (error as SdkErrorFields) : {};
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Replaces every occurrence of the given secrets in a text: the last line of defence
 * for messages built from errors we do not control.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}
