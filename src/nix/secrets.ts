// Moved to the config suite (suites/config/secret-values.ts), where its only judge lives.
export * from '../../suites/config/secret-values.js';
