/*
 * Extends the scaffold's webpack config (.config/webpack/webpack.config.ts, left untouched):
 * plugin.json and dashboards/ live at the repository root, so the copy step also takes
 * ../dashboards into dist/dashboards, and LICENSE/CHANGELOG.md are optional.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import type { Configuration } from 'webpack';

import { copyFilePatterns } from './.config/bundler/copyFiles';
import grafanaConfig, { type Env } from './.config/webpack/webpack.config';

const config = async (env: Env): Promise<Configuration> => {
  const base = await grafanaConfig(env);
  const patterns = [
    ...copyFilePatterns,
    { from: '../dashboards/*.json', to: 'dashboards/[name][ext]' },
  ];
  base.plugins = (base.plugins ?? []).map((p) =>
    p instanceof CopyWebpackPlugin ? new CopyWebpackPlugin({ patterns }) : p
  );
  return base;
};

export default config;
