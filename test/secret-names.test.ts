// One rule for what names a secret, on both sides: the config suite's isSecretName (manifest keys)
// and the node probe's secretname (src/probes/secret-discovery.sh) give the same answers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSecretName } from '../suites/config/secret-values.js';

const NAMES = [
  'JWT_SECRET', 'DB_PASSWORD', 'OPENAI_API_KEY', 'SECRET_KEY_BASE', 'REDIS_PASS', 'API_TOKEN', 'REQUIREPASS', 'BASIC_AUTH', 'AWS_SECRET_ACCESS_KEY', 'API_KEYS', 'TOKEN2',
  'CACHE_KEY_PREFIX', 'PASSWORD_MIN_LENGTH', 'TOKEN_TTL_SECONDS', 'JWT_SECRET_FILE', 'BORG_PASSCOMMAND', 'KEYBOARD_LAYOUT', 'LOG_LEVEL', 'PORT', 'API_KEY_ID',
];

describe('secret names', () => {
  it('secrets and settings about secrets', () => {
    expect(NAMES.filter(isSecretName)).toEqual(NAMES.slice(0, 11));
    expect(['apiKey', 'jwtSecret', 'secretKeyBase'].every(isSecretName)).toBe(true);
    expect(['jwtSecretFile', 'apiKeyPrefix', 'tokenTtl'].some(isSecretName)).toBe(false);
  });

  it('the node probe (secretname in secret-discovery.sh) agrees on every name', () => {
    const sh = readFileSync(new URL('../src/probes/secret-discovery.sh', import.meta.url), 'utf8');
    const fn = /^SECRET_QUALIFIERS=.*$/m.exec(sh)![0] + '\n' + /^secretname\(\) \{[\s\S]*?^\}$/m.exec(sh)![0];
    const r = spawnSync('bash', ['-c', `${fn}\nfor n in "$@"; do secretname "$n" && echo "$n"; done`, 'x', ...NAMES], { encoding: 'utf8' });
    expect(r.stdout.trim().split('\n')).toEqual(NAMES.filter(isSecretName));
  });
});
