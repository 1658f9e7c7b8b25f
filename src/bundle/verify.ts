// `leafcert verify`: the bundle's signature (ssh-keygen -Y verify against allowed_signers), then
// every file against SHA256SUMS. Every problem is named: an altered, missing or extra file, or a
// manifest whose signature does not hold.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { printable } from '../core/text.js';
import { findPrincipals, verifySignature } from './sshsig.js';
import { listFiles, parseSums, sha256File, SIG, SUMS } from './sums.js';

/** The invocation cannot be checked at all (no such bundle, no allowed_signers): exit 2. */
export class VerifyUsageError extends Error {}

export interface Verdict {
  /** Empty when the bundle is intact and signed by an allowed signer. */
  problems: string[];
  /** ssh-keygen's "Good ... signature for ID with KEY SHA256:..." line when the signature holds. */
  signature?: string;
  /** Files checked against SHA256SUMS. */
  checked: number;
}

export function verifyBundle(bundle: string, allowedSigners: string, identity?: string): Verdict {
  const dir = resolve(bundle);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new VerifyUsageError(`${printable(bundle)}: not a bundle directory`);
  const allowed = resolve(allowedSigners);
  try {
    readFileSync(allowed);
  } catch (e) {
    throw new VerifyUsageError(`--allowed-signers ${printable(allowedSigners)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const problems: string[] = [];
  const sumsPath = join(dir, SUMS);
  const sigPath = join(dir, SIG);
  const sums = statSync(sumsPath, { throwIfNoEntry: false })?.isFile() ? readFileSync(sumsPath) : undefined;
  const haveSig = statSync(sigPath, { throwIfNoEntry: false })?.isFile() ?? false;
  if (!sums) problems.push(`missing: ${SUMS} (the signed manifest)`);
  if (!haveSig) problems.push(`missing: ${SIG} (the signature)`);

  let signature: string | undefined;
  if (sums && haveSig) {
    // Without --identity, whoever allowed_signers says made it (ssh-keygen -Y find-principals).
    const ids = identity ? [identity] : findPrincipals(allowed, sigPath);
    if (ids.length === 0) problems.push(`signature: ${SIG} is not valid for ${SUMS} by any key in ${printable(allowedSigners)} (${SUMS} or ${SIG} altered, or signed by someone else)`);
    else {
      const v = verifySignature(allowed, ids[0], sigPath, sums);
      if (v.ok) signature = v.message;
      else problems.push(`signature: ${SIG} does not verify ${SUMS} for ${printable(ids[0])} (${SUMS} or ${SIG} altered, or signed by someone else): ${printable(v.message)}`);
    }
  }

  let checked = 0;
  if (sums) {
    const { entries, problems: bad } = parseSums(sums.toString('utf8'));
    problems.push(...bad);
    const listed = new Set(entries.map((e) => e.path));
    for (const e of entries) {
      const p = join(dir, e.path);
      if (!statSync(p, { throwIfNoEntry: false })?.isFile()) problems.push(`missing: ${e.path}`);
      else if (sha256File(p) !== e.sha256) problems.push(`altered: ${e.path} (sha256 ${sha256File(p)}, signed ${e.sha256})`);
      else checked++;
    }
    const { files, odd } = listFiles(dir);
    for (const f of files) if (!listed.has(f) && f !== SUMS && f !== SIG) problems.push(`extra: ${printable(f)} (not in ${SUMS})`);
    for (const f of odd) problems.push(`extra: ${printable(f)} (not a regular file)`);
  }
  return { problems, signature, checked };
}
