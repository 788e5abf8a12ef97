// Force the timezone to UTC so time-dependent tests behave the same everywhere.
process.env.TZ = 'UTC';

module.exports = {
  // Jest configuration provided by the Grafana scaffolding (.config/jest.config.js).
  ...require('./.config/jest.config'),
};
