import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';

/**
 * A TemplateSrv for tests: `$name` and `${name}` are replaced from `values` (scopedVars win);
 * arrays follow Grafana's formats: `csv` joins with commas, the default gives `{a,b}`.
 */
export function installTemplateSrv(values: Record<string, string | string[]>, names: string[] = []): TemplateSrv {
  const srv = {
    getVariables: () => names.map((name) => ({ name, type: 'query' }) as unknown as TypedVariableModel),
    replace: (target?: string, scopedVars?: ScopedVars, format?: string | Function): string => {
      if (!target) {
        return '';
      }
      return target.replace(/\$\{(\w+)\}|\$(\w+)/g, (match: string, a?: string, b?: string) => {
        const name = (a ?? b) as string;
        const scoped = scopedVars?.[name]?.value as string | string[] | undefined;
        const v = scoped ?? values[name];
        if (v === undefined) {
          return match;
        }
        if (Array.isArray(v)) {
          return format === 'csv' ? v.join(',') : `{${v.join(',')}}`;
        }
        return String(v);
      });
    },
    containsTemplate: (t?: string) => Boolean(t && /\$/.test(t)),
    updateTimeRange: () => undefined,
  } as unknown as TemplateSrv;
  setTemplateSrv(srv);
  return srv;
}
