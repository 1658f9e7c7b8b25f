// `leafcert bundle` and `leafcert verify` (docs/bundle.md). Exit codes: bundle 0 written, 2 bad
// invocation (nothing written); verify 0 valid, 1 altered or not validly signed, 2 bad invocation.
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { printable } from '../core/text.js';
import { BundleError, checkBundleTarget, createBundle } from './bundle.js';
import { verifyBundle, VerifyUsageError } from './verify.js';
import { SshSigError } from './sshsig.js';

function say(line: string): void {
  process.stderr.write(`leafcert: ${printable(line)}\n`);
}

export interface BundleFlags {
  out: string;
  key: string;
  inventory?: string;
  manifest?: string;
}

export function bundleCommand(reports: string[], flags: BundleFlags, harnessVersion: string): number {
  try {
    const { dir, files } = createBundle({ ...flags, reports, harnessVersion });
    process.stdout.write(`bundle ${dir}: ${files.length} files, SHA256SUMS signed (namespace leafcert-bundle)\n`);
    return 0;
  } catch (e) {
    if (e instanceof BundleError) {
      say(e.message);
      return 2;
    }
    throw e;
  }
}

/** `run --bundle DIR --sign-key KEY`: what is wrong with the flags (exit 2 before the run), if anything. */
export function runBundleProblem(flags: { bundle?: string; signKey?: string }, reports: string[]): string | undefined {
  if (flags.bundle === undefined && flags.signKey === undefined) return undefined;
  if (flags.bundle === undefined || flags.signKey === undefined) return '--bundle and --sign-key go together';
  if (reports.length === 0) return '--bundle needs at least one report (--junit, --tap, --json, --html)';
  const inside = reports.find((r) => !relative(resolve(flags.bundle!), r).startsWith('..'));
  if (inside) return `--bundle ${flags.bundle}: report ${inside} would be inside it; write reports elsewhere, they are copied in`;
  try {
    checkBundleTarget(flags.bundle, flags.signKey);
  } catch (e) {
    if (e instanceof BundleError) return e.message;
    throw e;
  }
  return undefined;
}

/** After the run: the bundle of its reports, or one line and exit 3 (evidence asked for and not made). */
export function bundleAfterRun(flags: { bundle: string; signKey: string }, reports: string[], inventory: string, exitCode: number, harnessVersion: string): number {
  try {
    const { dir, files } = createBundle({ out: flags.bundle, key: flags.signKey, reports, inventory, harnessVersion });
    process.stdout.write(`bundle ${dir}: ${files.length} files, SHA256SUMS signed (namespace leafcert-bundle)\n`);
    return exitCode;
  } catch (e) {
    say(`--bundle ${flags.bundle} could not be made: ${e instanceof Error ? e.message : String(e)}`);
    return 3;
  }
}

export function verifyCommand(bundle: string, flags: { allowedSigners: string; identity?: string }): number {
  try {
    const v = verifyBundle(bundle, flags.allowedSigners, flags.identity);
    for (const p of v.problems) process.stdout.write(`${printable(p)}\n`);
    if (v.problems.length) {
      process.stdout.write(`NOT VALID: ${printable(bundle)}: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    process.stdout.write(`${printable(v.signature ?? '')}\nVALID: ${printable(bundle)}: ${v.checked} files match the signed SHA256SUMS\n`);
    return 0;
  } catch (e) {
    if (e instanceof VerifyUsageError || e instanceof SshSigError) {
      say(e.message);
      return 2;
    }
    throw e;
  }
}

export function registerBundle(program: Command, harnessVersion: string): void {
  program
    .command('bundle')
    .description('Put reports, inventory and manifest in a directory with a SHA-256 manifest signed with an SSH key.')
    .argument('<reports...>', 'report files of one run (e.g. reports/*)')
    .requiredOption('-o, --out <dir>', 'new (or empty) directory for the bundle')
    .requiredOption('-k, --key <file>', 'SSH private key to sign with (ssh-keygen -Y sign; a public key with $SSH_AUTH_SOCK uses the agent)')
    .option('-i, --inventory <file>', "the run's inventory (default: the one the JSON report names, if its sha256 still matches)")
    .option('--manifest <file>', 'the NixOS manifest the inventory was planned from')
    .addHelpText('after', '\nExit codes: 0 written, 2 invalid invocation (nothing written). Check with `leafcert verify`\nor `ssh-keygen -Y verify -n leafcert-bundle` (docs/bundle.md).')
    .action((reports: string[], flags: BundleFlags) => {
      process.exitCode = bundleCommand(reports, flags, harnessVersion);
    });
  program
    .command('verify')
    .description("Check a bundle's signature and every file's SHA-256; name any altered, missing or extra file.")
    .argument('<bundle>', 'bundle directory')
    .requiredOption('--allowed-signers <file>', 'OpenSSH allowed_signers file (ssh-keygen(1) ALLOWED SIGNERS)')
    .option('--identity <id>', 'principal the signature must be from (default: any principal in allowed_signers)')
    .addHelpText('after', '\nExit codes: 0 valid, 1 altered, missing or extra files or a signature that does not verify,\n2 invalid invocation.')
    .action((bundle: string, flags: { allowedSigners: string; identity?: string }) => {
      process.exitCode = verifyCommand(bundle, flags);
    });
}
