// Force the timezone to UTC so time-dependent tests behave the same everywhere.
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by the Grafana scaffolding (.config/jest.config.js) ...
  ...base,
  // UI tests render real @grafana/ui components: give them room on a busy 2-core CI machine.
  testTimeout: 30000,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    // the YAML parser of the provisioning tests: its CommonJS build (jsdom would pick the ESM browser build)
    '^yaml$': '<rootDir>/node_modules/yaml/dist/index.js',
  },
  transform: {
    // ... plus ES modules shipped as .mjs only (d3-color 3.1.x, pulled in by @grafana/data).
    '^.+\\.mjs$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' } }, module: { type: 'commonjs' } }],
    ...base.transform,
  },
};
