import { inspect } from 'node:util';
import type { PrivateRegistry } from '../config/cluster.js';
import { OperatorError } from '../errors.js';

/**
 * Pure logic for images pulled from a registry: reading an image reference the way
 * Docker does, choosing the `private_registries` entry (and so the credentials) for it,
 * RKE's default-registry prefix, and turning the engine's pull errors into one line
 * the operator can act on. No I/O here.
 */

/** Docker Hub, as Docker names it in references; RKE's default `private_registries[].url`. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export interface ImageReference {
  /** The registry host[:port]: `docker.io` when the reference names none. */
  domain: string;
  /** Whether the reference itself starts with a registry host. */
  explicitDomain: boolean;
  /** Repository path without the domain, e.g. `rancher/rke-tools`. */
  path: string;
}

// distribution/reference: lower-case path components joined by ".", "_", "__" or "-"s.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/**
 * Splits an image reference as Docker does: the first component is a registry host
 * when it contains "." or ":", or is "localhost"; otherwise the image is on Docker Hub.
 * Throws a plain Error saying what is wrong (the caller names the flag).
 */
export function parseImageReference(reference: string): ImageReference {
  if (reference === '' || /\s/.test(reference)) throw new Error('an image reference has no spaces and is not empty');
  let name = reference;
  const at = name.indexOf('@');
  if (at >= 0) {
    if (!DIGEST.test(name.slice(at + 1))) throw new Error(`"${name.slice(at + 1)}" is not a digest like sha256:<hex>`);
    name = name.slice(0, at);
  }
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) {
    const tag = name.slice(colon + 1);
    if (!TAG.test(tag)) throw new Error(`"${tag}" is not a valid tag`);
    name = name.slice(0, colon);
  }
  const components = name.split('/');
  const first = components[0] ?? '';
  const explicitDomain = components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  const domain = explicitDomain ? first : DOCKER_HUB;
  if (explicitDomain && !DOMAIN.test(domain)) throw new Error(`"${domain}" is not a valid registry host[:port]`);
  const pathComponents = explicitDomain ? components.slice(1) : components;
  for (const component of pathComponents) {
    if (!PATH_COMPONENT.test(component)) {
      throw new Error(
        component === '' ? 'it has an empty path component' : `"${component}" is not a valid repository name component (lower-case letters, digits, and . _ - between them)`,
      );
    }
  }
  return { domain, explicitDomain, path: pathComponents.join('/') };
}

/**
 * A registry login. The password is kept out of `JSON.stringify`, `util.inspect` and
 * string conversion, so that no log line or error can carry it by accident.
 */
export class RegistryCredentials {
  readonly #password: string;

  constructor(
    readonly username: string,
    password: string,
    /** The registry host, as Docker's AuthConfig.serveraddress. */
    readonly serverAddress: string,
  ) {
    this.#password = password;
  }

  /** dockerode's `authconfig`: sent only as the X-Registry-Auth header of the pull request. */
  authconfig(): { username: string; password: string; serveraddress: string } {
    return { username: this.username, password: this.#password, serveraddress: this.serverAddress };
  }

  /** For scrubbing messages that come back from elsewhere (the engine, the registry). */
  secretValues(): string[] {
    return this.#password === '' ? [] : [this.#password];
  }

  toJSON(): Record<string, string> {
    return { username: this.username, password: '<hidden>', serverAddress: this.serverAddress };
  }

  toString(): string {
    return `RegistryCredentials(${this.username}@${this.serverAddress})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The `private_registries` entry an image is pulled with. */
export interface RegistryChoice {
  /** `private_registries[2]`: names the entry in messages. */
  field: string;
  /** The entry's url as written (scheme and trailing "/" removed). */
  url: string;
  /** Undefined when the entry has neither user nor password: the pull is anonymous. */
  credentials?: RegistryCredentials;
}

export interface ResolvedImage {
  /** What the engine pulls and runs: the default registry's prefix added when RKE would. */
  reference: string;
  /** The registry host[:port] the engine contacts (`docker.io` for Docker Hub). */
  registryHost: string;
  /** Set when no registry host was named and the `is_default` registry's url was put in front. */
  prefixedWith?: string;
  registry?: RegistryChoice;
  /** Notes for the operator (e.g. a url given with a scheme). */
  warnings: string[];
}

/**
 * Decide what to pull for `reference` and with which `private_registries` entry.
 *
 * - A reference without a registry host is put under the first `is_default` registry's
 *   url (`url/reference`), as RKE does for its system images; without a default
 *   registry it stays a Docker Hub image.
 * - The entry is the one whose url is the reference's registry host, or a path prefix of
 *   the repository (`registry.example.com/team` for `registry.example.com/team/agent`);
 *   the longest such url wins (of equal ones the later, as RKE keeps the last entry of a
 *   url). `docker.io`, `index.docker.io` and `registry-1.docker.io` are the same registry.
 */
export function resolveRegistryImage(reference: string, registries: readonly PrivateRegistry[], flag = '--backup-image'): ResolvedImage {
  const warnings: string[] = [];
  const entries = registries.map((registry, index) => {
    const field = `private_registries[${index}]`;
    const url = normaliseRegistryUrl(registry.url);
    if (url !== registry.url.replace(/\/+$/, '')) warnings.push(`${field}.url: "${registry.url}" is used as "${url}" (Docker chooses HTTPS itself; no scheme is needed)`);
    return { registry, field, url };
  });
  let parsed = parseOrThrow(reference, flag);
  let resolved = reference;
  let prefixedWith: string | undefined;
  const defaultEntry = entries.find((entry) => entry.registry.isDefault);
  if (!parsed.explicitDomain && defaultEntry !== undefined && !isDockerHub(defaultEntry.url)) {
    resolved = `${defaultEntry.url}/${reference}`;
    prefixedWith = defaultEntry.url;
    parsed = parseOrThrow(resolved, `${flag} under ${defaultEntry.field}.url (is_default)`);
  }
  const repository = `${canonicalDomain(parsed.domain)}/${parsed.path}`;
  let best: (typeof entries)[number] | undefined;
  for (const entry of entries) {
    const url = canonicalUrl(entry.url);
    const matches = url === canonicalDomain(parsed.domain) || repository.startsWith(`${url}/`);
    // `>=`: of two entries with the same url the later one wins, as in RKE's map keyed by url.
    if (matches && (best === undefined || url.length >= canonicalUrl(best.url).length)) best = entry;
  }
  if (best !== undefined && best.registry.ecrCredentialPlugin && best.registry.user === undefined && best.registry.password === undefined) {
    throw new OperatorError(
      `${best.field}.ecr_credential_plugin: ECR logins are not supported by this version (needed for ${flag} ${resolved}); ` +
        `give ${best.field}.user: AWS and password: the output of "aws ecr get-login-password" instead`,
    );
  }
  const registry: RegistryChoice | undefined =
    best === undefined
      ? undefined
      : {
          field: best.field,
          url: best.url,
          ...(best.registry.user !== undefined || best.registry.password !== undefined
            ? { credentials: new RegistryCredentials(best.registry.user ?? '', best.registry.password ?? '', parsed.domain) }
            : {}),
        };
  return {
    reference: resolved,
    registryHost: parsed.domain,
    ...(prefixedWith !== undefined ? { prefixedWith } : {}),
    ...(registry !== undefined ? { registry } : {}),
    warnings,
  };
}

function parseOrThrow(reference: string, flag: string): ImageReference {
  try {
    return parseImageReference(reference);
  } catch (error) {
    throw new OperatorError(`${flag}: "${reference}" is not a valid image reference: ${(error as Error).message}`);
  }
}

/** RKE writes the url into the image name, so only a scheme and trailing slashes are dropped. */
export function normaliseRegistryUrl(url: string): string {
  return url.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

function isDockerHub(url: string): boolean {
  return DOCKER_HUB_ALIASES.has(url.toLowerCase());
}

function canonicalDomain(domain: string): string {
  return isDockerHub(domain) ? DOCKER_HUB : domain.toLowerCase();
}

function canonicalUrl(url: string): string {
  const slash = url.indexOf('/');
  const host = slash < 0 ? url : url.slice(0, slash);
  return canonicalDomain(host) + (slash < 0 ? '' : url.slice(slash));
}

// ---- the engine's pull errors, for the operator ----

export interface PullContext {
  host: string;
  image: string;
  registryHost: string;
  registry?: RegistryChoice;
}

export type PullFailureKind = 'unauthorized' | 'denied' | 'not-found' | 'unreachable' | 'untrusted-certificate' | 'other';

/** What kind of failure the engine's message describes (Docker 1.13 to 27 wordings). */
export function classifyPullFailure(message: string, statusCode?: number): PullFailureKind {
  const text = message.toLowerCase();
  if (/x509:|certificate signed by unknown authority|certificate is not valid|tls: failed to verify/.test(text)) return 'untrusted-certificate';
  if (/unauthorized|authentication required|no basic auth credentials|incorrect username or password|401 unauthorized/.test(text)) return 'unauthorized';
  if (/pull access denied|repository does not exist|manifest unknown|not found|name unknown/.test(text) || statusCode === 404) return 'not-found';
  if (/denied|forbidden|403/.test(text)) return 'denied';
  if (/dial tcp|connection refused|no such host|i\/o timeout|network is unreachable|no route to host|tls handshake timeout|connection reset|server misbehaving|timeout exceeded/.test(text)) {
    return 'unreachable';
  }
  return 'other';
}

/**
 * One line naming the node, the image and the registry, and saying what to check.
 * Anything that came back from the engine is scrubbed of the credentials first.
 */
export function describePullFailure(engineMessage: string, context: PullContext, statusCode?: number): string {
  const said = scrub(engineMessage, context.registry?.credentials);
  const where = `pulling image ${context.image} on host ${context.host} failed`;
  const entry = context.registry;
  const login = entry?.credentials !== undefined ? `the credentials of ${entry.field}` : undefined;
  switch (classifyPullFailure(said, statusCode)) {
    case 'unauthorized':
      if (entry !== undefined && login !== undefined) {
        return `${where}: registry ${context.registryHost} did not accept ${login} (${said}); check ${entry.field}.user/password in cluster.yml`;
      }
      return `${where}: registry ${context.registryHost} requires a login (${said}); add it to private_registries in cluster.yml (url: ${context.registryHost}, user, password)`;
    case 'denied':
      return login !== undefined && entry !== undefined
        ? `${where}: registry ${context.registryHost} denied ${entry.field}.user access to the image (${said}); check that user's permissions on the repository`
        : `${where}: registry ${context.registryHost} denied access to the image (${said}); add a login for it to private_registries in cluster.yml`;
    case 'not-found':
      return (
        `${where}: the image is not in registry ${context.registryHost} (${said}); check the name and tag given to --backup-image` +
        (login === undefined ? ' (or, if the registry hides images from anonymous users, add a login for it to private_registries)' : '')
      );
    case 'unreachable':
      return `${where}: registry ${context.registryHost} cannot be reached from the node (${said}); check the registry address and that the node can reach it`;
    case 'untrusted-certificate':
      return `${where}: the node's Docker does not trust the TLS certificate of registry ${context.registryHost} (${said}); put the registry's CA certificate in /etc/docker/certs.d/${context.registryHost}/ca.crt on the node`;
    case 'other':
      return `${where}: ${said}` + (entry === undefined ? `; no private_registries entry matches registry ${context.registryHost}` : '');
  }
}

/** Remove every credential value (and its base64, as in X-Registry-Auth) from `text`. */
export function scrub(text: string, credentials?: RegistryCredentials): string {
  let result = text;
  for (const secret of credentials?.secretValues() ?? []) {
    for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]) {
      result = result.split(form).join('<hidden>');
    }
  }
  return result;
}
