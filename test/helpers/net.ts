// For the firewall/tls/health lab tests: run one suite against a lab node the way the engine does
// (one ssh Host, identity once, gather, pure evaluate), with the expectation `lab up` wrote.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { expect } from 'vitest';
import type { TestLab } from './lab.js';
import { openHost } from '../../src/transport/index.js';
import { gatherIdentity } from '../../src/probes/identity.js';
import type { Host, NodeIdentity, NodeSpec, Outcome, Suite } from '../../src/core/types.js';
import { allFaults } from '../../src/lab/faults/index.js';

export interface SuiteRunner {
  run(): Promise<Outcome[]>;
  host: Host;
  expectation: unknown;
  close(): Promise<void>;
}

export async function suiteRunner(lab: TestLab, nodeName: string, suite: Suite<any, any>): Promise<SuiteRunner> {
  const n = lab.info.nodes.find((x) => x.name === nodeName)!;
  const inv = parse(readFileSync(lab.inventory, 'utf8'));
  const expectation = inv.expectations[inv.nodes.find((x: { name: string }) => x.name === nodeName).expect][suite.key];
  const validate = new Ajv.default({ strict: false }).compile(suite.schema);
  expect(validate(expectation), JSON.stringify(validate.errors)).toBe(true);
  const spec: NodeSpec = {
    name: n.name, host: n.address, transport: 'ssh', expect: n.name,
    ssh: { user: 'root', port: 22, identityFile: lab.info.identityFile, knownHosts: lab.info.knownHosts, connectTimeoutMs: 5000 },
  };
  const host = await openHost(spec);
  const options = { allowMutating: false, timeoutMs: 30_000, baseDir: dirname(lab.inventory) };
  return {
    host,
    expectation,
    async run() {
      const identity: NodeIdentity = await gatherIdentity(host);
      const facts = await suite.gather({ node: spec, host, identity, options, progress: () => undefined }, expectation);
      return suite.evaluate(facts, expectation, { node: spec, identity, options, now: new Date() });
    },
    close: () => host.close(),
  };
}

export const statusOf = (os: Outcome[], id: string) => os.filter((o) => o.id === id).map((o) => o.status);
export const notPassing = (os: Outcome[]) => os.filter((o) => o.status !== 'pass').map((o) => `${o.id} ${o.subject}: ${o.status} ${o.message}`);

/** The lab's faults for an area, with the check ids of `suite` each must make fail. */
export function faultsFor(area: string, suite: Suite<any, any>) {
  return allFaults
    .filter((f) => f.area === area && !f.needs)
    .map((f) => ({ name: f.name, catches: f.catches.filter((c) => suite.checkIds.includes(c)), all: f.catches }));
}
