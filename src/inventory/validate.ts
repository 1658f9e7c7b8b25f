// The ajv wrapper moved to the ground floor (src/core/validate.ts): the manifest probe validates
// with it too, and probes must not import the inventory layer.
export { compile, condense, explain, makeAjv } from '../core/validate.js';
