#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { OperatorError, messageOf } from '../errors.js';
import { snapshotLsCommand, snapshotPruneCommand, snapshotRmCommand, snapshotVerifyCommand } from './snapshot-manage.js';
import { snapshotSaveCommand } from './snapshot-save.js';
import { snapshotFetchCommand } from './snapshot-fetch.js';
import { packageVersion, versionOutput } from './version.js';

/** Commander's own errors (unknown option, bad choice) read like ours: one ERROR line. */
const OUTPUT = { outputError: (text: string, write: (text: string) => void) => write(text.replace(/^error: /, 'ERROR ')) };

/**
 * `rke` — the same command line as RKE's for etcd snapshots. Only this layer prints
 * errors: an OperatorError as one line, anything else as a bug (stack under --debug).
 */
async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const version = versionOutput(argv.slice(2), packageVersion());
  if (version !== undefined) {
    process.stdout.write(version + '\n');
    return 0;
  }
  const program = new Command('rke')
    .description('etcd snapshots for RKE clusters')
    .option('-v, --version', 'print the version ("rke version vX.Y.Z"; with --output json: {"version": "X.Y.Z"})')
    .exitOverride()
    .configureOutput(OUTPUT);
  const etcd = new Command('etcd').description('etcd snapshot operations').exitOverride();
  etcd.addCommand(snapshotSaveCommand((code) => (exitCode = code)).exitOverride());
  etcd.addCommand(snapshotLsCommand((code) => (exitCode = code)).exitOverride());
  etcd.addCommand(snapshotRmCommand((code) => (exitCode = code)).exitOverride());
  etcd.addCommand(snapshotPruneCommand((code) => (exitCode = code)).exitOverride());
  etcd.addCommand(snapshotVerifyCommand((code) => (exitCode = code)).exitOverride());
  etcd.addCommand(snapshotFetchCommand((code) => (exitCode = code)).exitOverride());
  program.addCommand(etcd);
  // addCommand does not pass settings down: each command gets the same error format.
  for (const command of [etcd, ...etcd.commands]) command.configureOutput(OUTPUT);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return reportFailure(error, argv.includes('--debug'));
  }
}

function reportFailure(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message (or help/version, which exit 0).
    return error.exitCode;
  }
  if (error instanceof OperatorError) {
    process.stderr.write(`ERROR ${error.message}\n`);
    if (debug && error.cause) process.stderr.write(`DEBUG cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n`);
    return 1;
  }
  process.stderr.write(`ERROR unexpected failure: ${messageOf(error)} (this is a bug; rerun with --debug for details)\n`);
  if (debug) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}

/**
 * The AWS SDK warns (several lines) that its releases after January 2027 need Node 22:
 * nothing the operator can act on during a snapshot run. Every other warning is kept.
 */
process.removeAllListeners('warning');
process.on('warning', (warning: Error) => {
  if (warning.message.startsWith('NodeVersionSupportWarning')) return;
  process.stderr.write(`WARN ${warning.name}: ${messageOf(warning)}\n`);
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
