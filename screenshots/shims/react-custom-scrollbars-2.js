// @grafana/ui's ESM build default-imports this CommonJS package from .mjs files, where esbuild
// (following Node) would hand it the whole module object; webpack, as Grafana uses, gives the
// `default` export. This shim gives esbuild the same.
export { default } from '../../node_modules/react-custom-scrollbars-2/lib/index.js';
