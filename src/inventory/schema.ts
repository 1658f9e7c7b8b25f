// The inventory's JSON Schema, composed at load time from the base shape below and each
// registered suite's own schema, so a suite's expectation is validated by the suite that reads it.
import type { Suite } from '../core/types.js';

// Units are checked by src/units.ts through these ajv formats (registered in validate.ts), so the
// schema and the code that reads the values agree. Suites may use them too.
import { FORMATS } from '../core/formats.js';
export { FORMATS };

const durationOrSeconds = {
  type: ['string', 'number'],
  format: FORMATS.duration,
  minimum: 0,
  description: 'A duration: "30s", "500ms", "2m", or a number of seconds.',
};

const sshSettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    identityFile: { type: 'string', minLength: 1, description: 'Private key; relative to the inventory file.' },
    knownHosts: { type: 'string', minLength: 1, description: 'OpenSSH known_hosts; relative to the inventory file.' },
    agent: { type: 'boolean', description: 'Authenticate with $SSH_AUTH_SOCK.' },
    connectTimeout: durationOrSeconds,
    acceptNewHostKey: {
      type: 'boolean',
      description: 'Accept and record an unknown host key (never a changed one). Off by default.',
    },
  },
};

export function baseSchema(): Record<string, any> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://leafcert.invalid/schemas/inventory.schema.json',
    title: 'leafcert inventory',
    type: 'object',
    additionalProperties: false,
    required: ['nodes', 'expectations'],
    properties: {
      version: { const: 1 },
      defaults: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ssh: sshSettings,
          timeout: { ...durationOrSeconds, description: 'Per-suite gather timeout (default 60s).' },
          concurrency: { type: 'integer', minimum: 1, maximum: 1024 },
        },
      },
      nodes: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'expect'],
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
            host: { type: 'string', minLength: 1 },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            transport: { enum: ['ssh', 'local'] },
            expect: { type: 'string', minLength: 1 },
            ssh: sshSettings,
            labels: { type: 'object', additionalProperties: { type: 'string' } },
          },
          // An ssh node without a host could only mean a typo.
          if: { not: { properties: { transport: { const: 'local' } }, required: ['transport'] } },
          then: { required: ['host'] },
        },
      },
      expectations: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: {},
        },
      },
      optionPaths: {
        type: 'object',
        description: 'Written by `leafcert plan --from-nix`: inventory location (expectations.NAME.KEY...) → the NixOS option it came from; cited in evidence.',
        propertyNames: { pattern: '^expectations\\.' },
        additionalProperties: { type: 'string', minLength: 1 },
      },
      waivers: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['check', 'reason', 'approvedBy', 'expires'],
          properties: {
            check: { type: 'string', minLength: 1, description: 'Check id, `*` globs allowed.' },
            node: { type: 'string', minLength: 1 },
            subject: { type: 'string', minLength: 1 },
            reason: { type: 'string', minLength: 1 },
            approvedBy: { type: 'string', minLength: 1 },
            expires: { type: 'string', format: 'date' },
          },
        },
      },
    },
  };
}

/** The base schema with every suite's expectation schema under `expectations.<name>.<suite key>`. */
export function composeSchema(suites: Suite<any, any>[]): Record<string, any> {
  const schema = baseSchema();
  const props: Record<string, object> = {};
  for (const s of suites) props[s.key] = s.schema;
  schema.properties.expectations.additionalProperties.properties = props;
  return schema;
}
