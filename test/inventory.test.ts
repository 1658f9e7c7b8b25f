import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../src/inventory/errors.js';
import { loadInventory, parseInventory } from '../src/inventory/load.js';
import { composeSchema, FORMATS } from '../src/inventory/schema.js';
import { suites as registered } from '../src/suites.js';
import type { Suite } from '../src/core/types.js';
import { fakeSuite } from './helpers/fakes.js';

const dir = resolve('fixtures/inventory');
const beta: Suite = {
  ...fakeSuite('beta'),
  schema: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', format: FORMATS.size } } },
};
const suites = [fakeSuite('alpha'), beta];
const now = new Date('2026-11-27T04:00:00Z');

function problems(file: string): string[] {
  try {
    loadInventory(resolve(dir, file), { suites, now });
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return (e as InventoryError).message.split('\n');
  }
  throw new Error(`${file} loaded without errors`);
}

describe('loadInventory: a valid inventory', () => {
  const inv = loadInventory(resolve(dir, 'valid.yaml'), { suites, now });

  it('applies defaults and per-node overrides', () => {
    const [a, b, self] = inv.nodes;
    expect(a).toMatchObject({ name: 'leaf-paris-1', host: '10.250.0.2', transport: 'ssh', expect: 'alchemist', labels: { site: 'paris' } });
    expect(a.ssh).toEqual({
      user: 'root',
      port: 22,
      identityFile: resolve(dir, 'keys/id_ed25519'),
      knownHosts: resolve(dir, 'known_hosts'),
      agent: false,
      connectTimeoutMs: 5000,
      acceptNewHostKey: false,
    });
    expect(b.ssh.user).toBe('certifier');
    expect(b.ssh.port).toBe(2222);
    expect(b.ssh.knownHosts).toBe('/dev/null');
    expect(b.ssh.identityFile).toBe(resolve(dir, 'keys/id_ed25519'));
    expect(self.transport).toBe('local');
    expect(self.host).toBeUndefined();
  });

  it('keeps run defaults, the file path, its directory and its sha256', () => {
    expect(inv.defaults).toEqual({ timeoutMs: 90_000, concurrency: 3 });
    expect(inv.file).toBe(resolve(dir, 'valid.yaml'));
    expect(inv.baseDir).toBe(dir);
    expect(inv.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(inv.expectations.alchemist).toEqual({ alpha: { n: 1 }, beta: { limit: '8G' } });
  });

  it('keeps YAML dates as strings and warns about an expired waiver, naming where it is', () => {
    expect(inv.waivers[0].expires).toBe('2099-01-31');
    expect(inv.warnings).toEqual([
      `${resolve(dir, 'valid.yaml')}:32:72: waivers[1]: waiver for beta.* expired on 2020-01-31; it is not applied`,
    ]);
  });
});

describe('loadInventory: errors name the file, the line, the path and what was expected', () => {
  const f = (name: string) => resolve(dir, name);

  it('malformed YAML', () => {
    const lines = problems('malformed.yaml');
    expect(lines[0]).toMatch(new RegExp(`^${f('malformed.yaml')}:5:\\d+: YAML syntax: `));
  });

  it('wrong types and values', () => {
    expect(problems('wrong-types.yaml')).toEqual([
      `${f('wrong-types.yaml')}:2:16: defaults.concurrency: expected integer, got "four"`,
      `${f('wrong-types.yaml')}:3:12: defaults.timeout: expected a duration such as 30s, 500ms, 26h, 7d, got "30x"`,
      `${f('wrong-types.yaml')}:7:11: nodes[0].port: must be <= 65535, got number 70000`,
      `${f('wrong-types.yaml')}:10:11: nodes[1].host: expected string, got number 12`,
      `${f('wrong-types.yaml')}:11:16: nodes[1].transport: expected one of "ssh", "local", got "telnet"`,
      `${f('wrong-types.yaml')}:15:17: expectations.alchemist.alpha.n: expected integer, got "one"`,
      `${f('wrong-types.yaml')}:16:20: expectations.alchemist.beta.limit: expected a size such as 512M, 8G, 2GB, got "lots"`,
      `${f('wrong-types.yaml')}:18:60: waivers[0].expires: expected a date YYYY-MM-DD, got "next week"`,
    ]);
  });

  it('unknown keys, at the key, with the allowed ones', () => {
    expect(problems('unknown-keys.yaml')).toEqual([
      `${f('unknown-keys.yaml')}:2:22: defaults.ssh.knownHost: unknown key "knownHost" (expected one of: user, port, identityFile, knownHosts, agent, connectTimeout, acceptNewHostKey)`,
      `${f('unknown-keys.yaml')}:4:5: nodes[0]: missing required key "host"`,
      `${f('unknown-keys.yaml')}:5:5: nodes[0].hots: unknown key "hots" (expected one of: name, host, port, transport, expect, ssh, labels)`,
      `${f('unknown-keys.yaml')}:9:20: expectations.alchemist.alpha.typo: unknown key "typo" (expected one of: n)`,
      `${f('unknown-keys.yaml')}:10:5: expectations.alchemist.firewal: unknown suite key "firewal" (known: alpha, beta)`,
    ]);
  });

  it('duplicate node names and an expect naming no expectation', () => {
    expect(problems('cross-field.yaml')).toEqual([
      `${f('cross-field.yaml')}:5:11: nodes[1].name: duplicate node name "leaf-1" (also nodes[0])`,
      `${f('cross-field.yaml')}:7:13: nodes[1].expect: names no expectation "alchemis" (defined: alchemist)`,
    ]);
  });

  it('a missing file, an empty file, a list instead of a mapping', () => {
    expect(() => loadInventory('/nonexistent/inv.yaml', { suites })).toThrow('/nonexistent/inv.yaml: cannot read inventory: no such file');
    expect(() => parseInventory('', '/x.yaml', { suites })).toThrow('/x.yaml: expected a YAML mapping with `nodes` and `expectations`');
    expect(() => parseInventory('- a\n- b\n', '/x.yaml', { suites })).toThrow(InventoryError);
  });

  it('missing top-level keys and an empty node list', () => {
    expect(() => parseInventory('nodes: []\n', '/x.yaml', { suites })).toThrow(
      /\/x\.yaml:1:1: missing required key "expectations"\n\/x\.yaml:1:8: nodes: must NOT have fewer than 1 items/,
    );
  });

  it('an ssh node needs a host; a local node does not', () => {
    const base = 'expectations: { e: { alpha: {} } }\nnodes:\n';
    expect(() => parseInventory(base + '  - { name: a, expect: e }\n', '/x.yaml', { suites })).toThrow('nodes[0]: missing required key "host"');
    expect(parseInventory(base + '  - { name: a, expect: e, transport: local }\n', '/x.yaml', { suites }).nodes[0].transport).toBe('local');
  });

  it('YAML anchors bombs are refused', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    expect(() => parseInventory(bomb, '/x.yaml', { suites })).toThrow();
  });
});

describe('published inventory schema', () => {
  it('schemas/inventory.schema.json is up to date with the registered suites (regenerate: npm run build && node scripts/gen-schemas.js)', () => {
    const published = JSON.parse(readFileSync('schemas/inventory.schema.json', 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(composeSchema(registered))));
  });

  it('each registered suite key appears under expectations', () => {
    const props = composeSchema(registered).properties.expectations.additionalProperties.properties;
    expect(Object.keys(props)).toEqual(registered.map((s) => s.key));
  });
});

describe('loadInventory: key files', () => {
  it('a missing identity file is an inventory error at the key that names it (once per file)', () => {
    const text =
      'defaults:\n  ssh: { identityFile: ./nope/id_ed25519 }\nnodes:\n  - { name: a, host: h1, expect: e }\n  - { name: b, host: h2, expect: e }\n  - { name: c, host: h3, expect: e, ssh: { identityFile: /missing/key } }\n  - { name: d, transport: local, expect: e }\nexpectations:\n  e: { alpha: {} }\n';
    let msg = '';
    try {
      parseInventory(text, '/srv/inv.yaml', { suites });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.split('\n')).toEqual([
      '/srv/inv.yaml:2:24: defaults.ssh.identityFile: identity file /srv/nope/id_ed25519 does not exist (nodes a, b)',
      '/srv/inv.yaml:6:58: nodes[2].ssh.identityFile: identity file /missing/key does not exist (node c)',
    ]);
  });
});

describe('loadInventory: alternatives', () => {
  it('an anyOf mismatch reads as one sentence naming the alternatives', () => {
    const gamma: Suite = {
      ...fakeSuite('gamma'),
      schema: {
        type: 'object',
        additionalProperties: false,
        properties: { ports: { type: 'array', items: { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]+-[0-9]+$' }] } } },
      },
    };
    const text = 'nodes:\n  - { name: a, transport: local, expect: e }\nexpectations:\n  e:\n    gamma: { ports: [22, "80"] }\n';
    expect(() => parseInventory(text, '/x.yaml', { suites: [gamma] })).toThrow(
      '/x.yaml:5:26: expectations.e.gamma.ports[1]: expected integer or a string matching ^[0-9]+-[0-9]+$, got "80"',
    );
  });
});

describe('loadInventory: waivers that match nothing', () => {
  it('warns (with the position) about a waiver naming an unknown node or no check id', () => {
    const text =
      'nodes:\n  - { name: a, transport: local, expect: e }\nexpectations:\n  e: { alpha: {} }\nwaivers:\n' +
      '  - { check: alpha.one, node: b, reason: r, approvedBy: x, expires: 2099-01-01 }\n' +
      '  - { check: "alpah.*", reason: r, approvedBy: x, expires: 2099-01-01 }\n' +
      '  - { check: "alpha.*", node: a, reason: r, approvedBy: x, expires: 2099-01-01 }\n';
    const inv = parseInventory(text, '/x.yaml', { suites, now });
    expect(inv.warnings).toEqual([
      '/x.yaml:6:31: waivers[0].node: no node is named "b"',
      '/x.yaml:7:14: waivers[1].check: "alpah.*" matches no check id',
    ]);
  });
});

describe('loadInventory: names that exist on every JavaScript object', () => {
  it('an expect of "toString" names no expectation', () => {
    const text = 'nodes:\n  - { name: a, transport: local, expect: toString }\nexpectations:\n  e: { alpha: {} }\n';
    expect(() => parseInventory(text, '/x.yaml', { suites })).toThrow('nodes[0].expect: names no expectation "toString" (defined: e)');
  });
});
