import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { OktaOptions, OktaQuery, OktaSecureOptions } from './types';

export const plugin = new DataSourcePlugin<DataSource, OktaQuery, OktaOptions, OktaSecureOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
