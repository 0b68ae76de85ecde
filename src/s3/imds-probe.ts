import { request } from 'node:http';
import { OperatorError, messageOf } from '../errors.js';

/**
 * When the SDK's default credential chain finds nothing, it only says "Could not load
 * credentials from any providers". On an etcd node the source that matters is the
 * instance metadata service (the node's IAM role): ask it the way the SDK does (IMDSv2
 * token, then the role list) to tell the operator why it gave nothing.
 */
export async function noCredentialsError(env: NodeJS.ProcessEnv = process.env, timeoutMs = 2000): Promise<OperatorError> {
  const cause = await instanceMetadataProblem(env, timeoutMs);
  return new OperatorError(`no S3 credentials: pass --access-key/--secret-key-file, or give the etcd nodes an IAM role (${cause})`);
}

const TOKEN_PATH = '/latest/api/token';
const ROLES_PATH = '/latest/meta-data/iam/security-credentials/';

/** The endpoint the SDK uses: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address. */
export function instanceMetadataEndpoint(env: NodeJS.ProcessEnv): string {
  const configured = env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  if (configured !== undefined && configured !== '') return configured.replace(/\/+$/, '');
  return env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE?.toLowerCase() === 'ipv6' ? 'http://[fd00:ec2::254]' : 'http://169.254.169.254';
}

/** A parenthetical cause, e.g. "instance metadata not reachable: connection refused by http://169.254.169.254". */
export async function instanceMetadataProblem(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  const disabled = env.AWS_EC2_METADATA_DISABLED;
  if (disabled !== undefined && disabled !== 'false') return 'instance metadata is disabled by AWS_EC2_METADATA_DISABLED';
  const endpoint = instanceMetadataEndpoint(env);
  let token: string | undefined;
  try {
    const reply = await httpCall(endpoint, 'PUT', TOKEN_PATH, { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, timeoutMs);
    if (reply.status === 200) token = reply.body;
  } catch (error) {
    return `instance metadata not reachable: ${messageOf(error)}`;
  }
  try {
    const reply = await httpCall(endpoint, 'GET', ROLES_PATH, token === undefined ? {} : { 'x-aws-ec2-metadata-token': token }, timeoutMs);
    if (reply.status === 404) return `instance metadata at ${endpoint} has no IAM role for this node`;
    if (reply.status !== 200) return `instance metadata at ${endpoint} answered HTTP ${reply.status} for the IAM role`;
    return `instance metadata at ${endpoint} names the role ${JSON.stringify(reply.body.trim())}, but its credentials could not be read`;
  } catch (error) {
    return `instance metadata not reachable: ${messageOf(error)}`;
  }
}

interface Reply {
  status: number;
  body: string;
}

const MAX_BODY = 64 * 1024;

function httpCall(endpoint: string, method: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(path, `${endpoint}/`);
    } catch {
      reject(new Error(`${endpoint} is not a URL (AWS_EC2_METADATA_SERVICE_ENDPOINT)`));
      return;
    }
    const call = request(url, { method, headers, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < MAX_BODY) body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    // The first reject wins; later ones (the error that destroy() causes) are ignored.
    call.on('timeout', () => {
      reject(new Error(`no answer from ${endpoint} within ${timeoutMs / 1000} s`));
      call.destroy();
    });
    call.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ECONNREFUSED' ? new Error(`connection refused by ${endpoint}`) : new Error(`${endpoint}: ${messageOf(error)}`));
    });
    call.end();
  });
}
