// The custom JSON Schema formats of the inventory (units parsed by src/core/units.ts): shared by the
// schema, its validator and the suites' schemas.
export const FORMATS = {
  duration: 'leafcert-duration',
  size: 'leafcert-size',
  percent: 'leafcert-percent',
  /** A memory limit: a size, or a percentage of the node's memory (systemd's MemoryMax=75%). */
  memory: 'leafcert-memory',
} as const;
