/** `rke --version` / `rke -v`: the package's version, as RKE prints its own ("rke version vX.Y.Z"). */
import { readFileSync } from 'node:fs';

/** The installed package's package.json: <package>/dist/src/cli/ → <package>/. */
const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
}

/**
 * The version line when argv (after `rke`) asks for it: `--version` or `-v` as the first
 * argument; `--output json` (or `--output=json`) anywhere after it gives `{"version": "X.Y.Z"}`.
 * Undefined otherwise.
 */
export function versionOutput(args: readonly string[], version: string): string | undefined {
  if (args[0] !== '--version' && args[0] !== '-v') return undefined;
  const rest = args.slice(1);
  const outputAt = rest.indexOf('--output');
  const json = rest.includes('--output=json') || (outputAt >= 0 && rest[outputAt + 1] === 'json');
  return json ? JSON.stringify({ version }) : `rke version v${version}`;
}
