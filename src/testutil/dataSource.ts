import { DataSourceInstanceSettings } from '@grafana/data';

import { DataSource } from '../datasource';
import { OktaOptions } from '../types';

/** The real DataSource class with the settings of a provisioned Okta (oktaguard) data source. */
export function newDataSource(): DataSource {
  const settings = {
    id: 1,
    uid: 'oktaguard',
    type: 'oktaguard-okta-datasource',
    name: 'Okta',
    access: 'proxy',
    readOnly: false,
    jsonData: { orgUrl: 'https://example.okta.com' },
    meta: { id: 'oktaguard-okta-datasource' },
  } as unknown as DataSourceInstanceSettings<OktaOptions>;
  return new DataSource(settings);
}
