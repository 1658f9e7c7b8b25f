// The table of programs a certification may start on a node (src/probes/node-tools.ts) and its
// page for people (docs/node-tools.md) list the same programs; test/lab.test.ts holds a traced
// whole run to the table.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NODE_TOOLS, nodeTool } from '../src/probes/node-tools.js';

describe('node tools', () => {
  it('docs/node-tools.md lists every program of the table, and nothing else', () => {
    const doc = readFileSync('docs/node-tools.md', 'utf8');
    const listed = [...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(NODE_TOOLS).sort());
  });
  it('resolves by file name, borg job wrappers by their prefix; python and perl are not there', () => {
    expect(nodeTool('/usr/bin/grep')?.pkg).toBe('gnugrep');
    expect(nodeTool('/run/current-system/sw/bin/borg-job-alchemist')?.pkg).toBe('borgbackup');
    for (const p of ['/usr/bin/python3', '/usr/bin/perl', 'jq', 'nc']) expect(nodeTool(p), p).toBeUndefined();
    for (const t of Object.values(NODE_TOOLS)) expect(['base', 'service']).toContain(t.kind);
  });
});
