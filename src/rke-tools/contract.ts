/**
 * rke-tools' command line for a one-time snapshot, as RKE drives it (rancher/rke
 * services/etcd.go RunEtcdSnapshotSave + configS3BackupImgCmd) and as rke-tools parses
 * it (rancher/rke-tools main.go, urfave/cli v1 over Go's flag package). Both directions
 * live here, pure, so that what the CLI writes and what the agent reads are one contract:
 *
 *   /opt/rke-tools/rke-etcd-backup etcd-backup save --cacert F --cert F --key F --name NAME
 *       --endpoints=IP:2379 --once [--s3-backup=true --s3-endpoint=E --s3-bucketName=B
 *       --s3-region=R [--s3-endpoint-ca=<base64 PEM>] [--s3-folder=F]]
 *   env: services.etcd.extra_env [+ S3_ACCESS_KEY=<base64> S3_SECRET_KEY=<base64>]
 *
 * The keys in the environment are that contract's own weakness (readable with
 * `docker inspect`); the CLI warns about it, our native protocol never does it.
 */
import { OperatorError } from '../errors.js';
import { validateSnapshotName } from '../model/names.js';

/** Where rke-tools keeps its backup tool; RKE runs this path as the container's command. */
export const RKE_TOOLS_BINARY = '/opt/rke-tools/rke-etcd-backup';

/**
 * The label our agent image carries (agent-image/build.sh): an image with
 * `<label>=native` speaks the native protocol (agent/protocol/); any other image is driven
 * with rke-tools' command line.
 */
export const IMAGE_CONTRACT_LABEL = 'io.rke-etcd-snapshot.contract';

/** rke-tools' default for --endpoints. */
export const RKE_TOOLS_DEFAULT_ENDPOINTS = '127.0.0.1:2379';

/** rke-tools' default S3 endpoint when none is given (IAM role case). */
export const RKE_TOOLS_DEFAULT_S3_ENDPOINT = 's3.amazonaws.com';

/** The log line rke-tools writes when it keeps an object of an earlier run instead of uploading. */
export const RKE_TOOLS_SKIPPED_UPLOAD = 'Skipping upload to s3 because snapshot already exists and versioning is not enabled for the bucket';

/** The words RKE looks for in the container's stderr to call a failure an upload failure. */
export const RKE_TOOLS_UPLOAD_FAILURE = 'failed to upload etcd snapshot file';

// ---------------------------------------------------------------------------------------
// The CLI's side: the command line and environment RKE would give the container.

export interface RkeToolsSaveSpec {
  name: string;
  /** The node's internal address; rke-tools gets `<address>:2379`, without a scheme. */
  internalAddress: string;
  cacert: string;
  cert: string;
  key: string;
  /** services.etcd.extra_env */
  extraEnv: readonly string[];
  s3?: RkeToolsS3Spec;
}

export interface RkeToolsS3Spec {
  endpoint: string;
  bucket: string;
  region?: string;
  folder: string;
  /** PEM text; passed base64-encoded in the arguments, as RKE does. */
  customCaPem?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface RkeToolsInvocation {
  cmd: string[];
  env: string[];
}

/** What RKE puts in the container for `rke etcd snapshot-save [--s3 ...]`. */
export function rkeToolsSaveInvocation(spec: RkeToolsSaveSpec): RkeToolsInvocation {
  const cmd = [
    RKE_TOOLS_BINARY, 'etcd-backup', 'save',
    '--cacert', spec.cacert,
    '--cert', spec.cert,
    '--key', spec.key,
    '--name', spec.name,
    `--endpoints=${endpointArgument(spec.internalAddress)}`,
    '--once',
  ];
  const env = [...spec.extraEnv];
  const s3 = spec.s3;
  if (s3) {
    cmd.push('--s3-backup=true', `--s3-endpoint=${s3.endpoint}`, `--s3-bucketName=${s3.bucket}`, `--s3-region=${s3.region ?? ''}`);
    if (s3.customCaPem) cmd.push(`--s3-endpoint-ca=${Buffer.from(s3.customCaPem).toString('base64')}`);
    if (s3.folder !== '') cmd.push(`--s3-folder=${s3.folder}`);
    if (s3.credentials) {
      env.push(
        `S3_ACCESS_KEY=${Buffer.from(s3.credentials.accessKeyId).toString('base64')}`,
        `S3_SECRET_KEY=${Buffer.from(s3.credentials.secretAccessKey).toString('base64')}`,
      );
    }
  }
  return { cmd, env };
}

/** IPv6 addresses need brackets before the port. */
function endpointArgument(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]:2379` : `${address}:2379`;
}

/** Every form in which a key of this run may show up in rke-tools' output (it logs the base64 access key). */
export function secretForms(credentials: RkeToolsS3Spec['credentials']): string[] {
  if (!credentials) return [];
  return [credentials.accessKeyId, credentials.secretAccessKey].flatMap((secret) => [secret, Buffer.from(secret).toString('base64')]);
}

// ---------------------------------------------------------------------------------------
// The agent's side: rke-tools' parsing of `etcd-backup save`, flags and environment.

export interface RkeToolsSaveRequest {
  name: string;
  /** https://HOST:PORT for our etcd client. */
  endpoint: string;
  cacert: string;
  cert: string;
  key: string;
  debug: boolean;
  s3?: RkeToolsS3Request;
  /** Accepted for compatibility and not acted on (named for the debug log). */
  ignored: string[];
}

export interface RkeToolsS3Request {
  endpoint: string;
  bucket: string;
  region?: string;
  folder: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** --s3-endpoint-ca: PEM text given base64-encoded, or a file inside the container to read. */
  customCa?: { pem: string } | { file: string };
}

type FlagKind = 'string' | 'bool' | 'duration' | 'uint';

interface FlagSpec {
  kind: FlagKind;
  env?: string;
  /** Accepted, but this image does nothing with it. */
  ignored?: true;
}

/** `etcd-backup save`'s flags (snapshotFlags + commonFlags + the retries), with their env variables. */
const SAVE_FLAGS: Record<string, FlagSpec> = {
  creation: { kind: 'duration', ignored: true },
  retention: { kind: 'duration', ignored: true },
  once: { kind: 'bool' },
  endpoints: { kind: 'string' },
  debug: { kind: 'bool', env: 'RANCHER_DEBUG' },
  name: { kind: 'string' },
  cacert: { kind: 'string', env: 'ETCD_CACERT' },
  cert: { kind: 'string', env: 'ETCD_CERT' },
  key: { kind: 'string', env: 'ETCD_KEY' },
  'local-endpoint': { kind: 'string', env: 'LOCAL_ENDPOINT', ignored: true },
  's3-backup': { kind: 'bool', env: 'S3_BACKUP' },
  's3-endpoint': { kind: 'string', env: 'S3_ENDPOINT' },
  's3-accessKey': { kind: 'string', env: 'S3_ACCESS_KEY' },
  's3-secretKey': { kind: 'string', env: 'S3_SECRET_KEY' },
  's3-bucketName': { kind: 'string', env: 'S3_BUCKET_NAME' },
  's3-region': { kind: 'string', env: 'S3_BUCKET_REGION' },
  's3-endpoint-ca': { kind: 'string', env: 'S3_ENDPOINT_CA' },
  's3-folder': { kind: 'string', env: 'S3_FOLDER' },
  'backup-retries': { kind: 'uint', ignored: true },
  's3-retries': { kind: 'uint', ignored: true },
};

/** Flags whose values are secrets: never echoed in an error. */
const SECRET_FLAGS = new Set(['s3-accessKey', 's3-secretKey']);

export const RKE_TOOLS_USAGE =
  `usage: ${RKE_TOOLS_BINARY} etcd-backup save --once --name NAME --endpoints HOST:2379 --cacert FILE --cert FILE --key FILE ` +
  '[--s3-backup --s3-endpoint HOST[:PORT] --s3-bucketName B [--s3-region R] [--s3-folder F] [--s3-endpoint-ca BASE64|FILE]] ' +
  '(S3 keys in S3_ACCESS_KEY / S3_SECRET_KEY, base64)';

/**
 * Reads `etcd-backup save ...` as rke-tools does: Go flag syntax (`-f`, `--f`, `--f=v`,
 * `--f v`; booleans only as `--f` or `--f=BOOL`), environment variables as defaults that
 * a flag overrides, S3 keys base64-decoded when they are valid base64 (rke-tools keeps
 * raw values for backward compatibility). Throws OperatorError with rke-tools' wording
 * where it has one.
 */
export function parseRkeToolsArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): RkeToolsSaveRequest {
  const [group, command, ...rest] = argv;
  if (group !== 'etcd-backup') {
    throw new OperatorError(`No help topic for '${group ?? ''}': this image answers only "etcd-backup save"; ${RKE_TOOLS_USAGE}`);
  }
  if (command !== 'save') {
    throw new OperatorError(
      `etcd-backup ${command ?? ''}: this image answers only "etcd-backup save --once" (use rancher/rke-tools for ${command ?? 'other commands'}); ${RKE_TOOLS_USAGE}`,
    );
  }
  const values = readFlags(rest, env);
  const text = (flag: string) => values.get(flag) ?? '';
  const bool = (flag: string) => parseBool(flag, values.get(flag));

  for (const flag of ['creation', 'retention']) {
    const value = values.get(flag);
    if (value !== undefined && parseGoDuration(flag, value) === 0) throw new OperatorError('Creation period and/or retention are not set');
  }
  for (const flag of ['backup-retries', 's3-retries']) {
    const value = values.get(flag);
    if (value !== undefined && !/^\d+$/.test(value)) throw new OperatorError(`invalid value "${value}" for flag -${flag}: parse error`);
  }
  if (!text('cert') || !text('cacert') || !text('key')) throw new OperatorError('Failed to find etcd cert or key paths');
  if (!bool('once')) {
    throw new OperatorError('rolling backups (etcd-backup save without --once) are not supported by this image; use rancher/rke-tools for etcd-rolling-snapshots');
  }
  const name = text('name');
  validateSnapshotName(name);

  const ignored = Object.entries(SAVE_FLAGS)
    .filter(([flag, spec]) => spec.ignored && values.has(flag))
    .map(([flag]) => `--${flag}`);
  return {
    name,
    endpoint: etcdEndpoint(values.get('endpoints') ?? RKE_TOOLS_DEFAULT_ENDPOINTS),
    cacert: text('cacert'),
    cert: text('cert'),
    key: text('key'),
    debug: bool('debug'),
    ...(bool('s3-backup') ? { s3: s3Request(values) } : {}),
    ignored,
  };
}

function s3Request(values: Map<string, string>): RkeToolsS3Request {
  const text = (flag: string) => (values.get(flag) ?? '').trim();
  const bucket = text('s3-bucketName');
  if (bucket === '') throw new OperatorError('--s3-backup: --s3-bucketName (S3_BUCKET_NAME) is required');
  const accessKeyId = decodeKey(text('s3-accessKey'));
  const secretAccessKey = decodeKey(text('s3-secretKey'));
  if ((accessKeyId === '') !== (secretAccessKey === '')) {
    throw new OperatorError('--s3-backup: S3_ACCESS_KEY and S3_SECRET_KEY must be given together, or neither (then the node\'s IAM role)');
  }
  const region = text('s3-region');
  const ca = text('s3-endpoint-ca');
  return {
    endpoint: text('s3-endpoint') || RKE_TOOLS_DEFAULT_S3_ENDPOINT,
    bucket,
    folder: text('s3-folder'),
    ...(region ? { region } : {}),
    ...(accessKeyId ? { accessKeyId, secretAccessKey } : {}),
    ...(ca ? { customCa: decodeCa(ca) } : {}),
  };
}

/** rke-tools: a value that decodes as standard base64 is the base64 of the key; anything else is the key itself. */
export function decodeKey(value: string): string {
  const decoded = decodeStdBase64(value);
  return decoded === undefined ? value : decoded.toString('utf8');
}

/** rke-tools: the CA is base64 of the PEM text, or else a path inside the container. */
function decodeCa(value: string): { pem: string } | { file: string } {
  const decoded = decodeStdBase64(value);
  return decoded === undefined ? { file: value } : { pem: decoded.toString('utf8') };
}

/** Go's base64.StdEncoding.DecodeString: padded, standard alphabet (newlines ignored); undefined when it would fail. */
export function decodeStdBase64(value: string): Buffer | undefined {
  const compact = value.replace(/[\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

/** `IP:2379` (rke-tools hands it to etcdctl, which adds the scheme) → `https://IP:2379`; one endpoint only. */
function etcdEndpoint(value: string): string {
  const endpoints = value.split(',').map((endpoint) => endpoint.trim()).filter(Boolean);
  if (endpoints.length !== 1) {
    throw new OperatorError(`--endpoints ${JSON.stringify(value)}: snapshot must be requested to one selected node, not multiple`);
  }
  const endpoint = endpoints[0]!;
  if (/^https:\/\//i.test(endpoint)) return endpoint;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) {
    throw new OperatorError(`--endpoints ${JSON.stringify(value)}: only https:// is supported (the client authenticates with certificates)`);
  }
  return `https://${endpoint}`;
}

function readFlags(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const values = new Map<string, string>();
  for (const [flag, spec] of Object.entries(SAVE_FLAGS)) {
    const fromEnv = spec.env === undefined ? undefined : env[spec.env];
    if (fromEnv !== undefined) values.set(flag, fromEnv);
  }
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') {
      if (index + 1 < args.length) throw unexpectedArgument(args[index + 1]!);
      break;
    }
    const match = /^--?([A-Za-z0-9-]+)(?:=([\s\S]*))?$/.exec(arg);
    if (match === null) throw unexpectedArgument(arg);
    const flag = match[1]!;
    const spec = SAVE_FLAGS[flag];
    if (spec === undefined) throw new OperatorError(`flag provided but not defined: -${flag}; ${RKE_TOOLS_USAGE}`);
    let value = match[2];
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        value = args[++index];
        if (value === undefined) throw new OperatorError(`flag needs an argument: -${flag}`);
      }
    }
    if (spec.kind === 'bool') parseBool(flag, value);
    values.set(flag, value);
  }
  return values;
}

function unexpectedArgument(arg: string): OperatorError {
  return new OperatorError(`unexpected argument ${JSON.stringify(arg)}: etcd-backup save takes only flags; ${RKE_TOOLS_USAGE}`);
}

/** Go's strconv.ParseBool; an empty environment value is false. */
function parseBool(flag: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  const shown = SECRET_FLAGS.has(flag) ? '' : ` "${value}"`;
  throw new OperatorError(`invalid boolean value${shown} for -${flag}: parse error`);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** Go's time.ParseDuration, in milliseconds ("12h", "1h30m", "0"). */
export function parseGoDuration(flag: string, value: string): number {
  const invalid = () => new OperatorError(`invalid value "${value}" for flag -${flag}: time: invalid duration "${value}"`);
  const body = value.replace(/^[+-]/, '');
  if (body === '0') return 0;
  if (body === '') throw invalid();
  let total = 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let index = 0;
  while (index < body.length) {
    part.lastIndex = index;
    const match = part.exec(body);
    if (match === null) throw invalid();
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    index = part.lastIndex;
  }
  return value.startsWith('-') ? -total : total;
}
