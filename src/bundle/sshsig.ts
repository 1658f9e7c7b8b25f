// SSH signatures (the SSHSIG format of `ssh-keygen -Y`), made and checked by ssh-keygen itself:
// the tool an auditor already has checks a bundle exactly as leafcert does, with no leafcert.
import { spawnSync } from 'node:child_process';

/** The signature namespace: a bundle signature cannot be replayed as a git or file signature. */
export const NAMESPACE = 'leafcert-bundle';

export class SshSigError extends Error {}

function keygen(args: string[], input?: Buffer): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ssh-keygen', args, { input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new SshSigError(code === 'ENOENT' ? 'ssh-keygen not found: install openssh-client' : `ssh-keygen: ${r.error.message}`);
  }
  return { status: r.status ?? 255, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find(Boolean) ?? 'no message';
}

/** Sign `file` with the private key (or, with $SSH_AUTH_SOCK, a public key held by the agent): writes `file`.sig. */
export function signFile(key: string, file: string): void {
  const r = keygen(['-q', '-Y', 'sign', '-f', key, '-n', NAMESPACE, file]);
  if (r.status !== 0) throw new SshSigError(`signing with ${key} failed: ${firstLine(r.stderr)}`);
}

/** Principals of allowed_signers whose key made the signature (none when it is no one's). */
export function findPrincipals(allowedSigners: string, sigFile: string): string[] {
  const r = keygen(['-Y', 'find-principals', '-f', allowedSigners, '-s', sigFile]);
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
}

/** `ssh-keygen -Y verify`: ok with its "Good signature ... with KEY SHA256:..." line, or why not. */
export function verifySignature(allowedSigners: string, identity: string, sigFile: string, data: Buffer): { ok: boolean; message: string } {
  const r = keygen(['-Y', 'verify', '-f', allowedSigners, '-I', identity, '-n', NAMESPACE, '-s', sigFile], data);
  return { ok: r.status === 0, message: firstLine(r.status === 0 ? r.stdout + r.stderr : r.stderr + r.stdout) };
}
