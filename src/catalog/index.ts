export { Catalog, parseName, qualify, type ResolveContext, type TableEntry } from './catalog.js';
export { loadCatalog, loadCatalogData, type LoadOptions } from './loader.js';
export { CatalogRefresher, type CatalogRefresherOptions } from './refresher.js';
export type { BindParam } from './slot-values.js';
export type { CatalogData, ColumnDefault, ColumnInfo, KeyPartInfo, LeafInfo, PartitionKeyInfo, RelationInfo, Resolution, Strategy } from './model.js';
export { loadForeignLeaves, parseGenericOptions, type ForeignLeaf, type ForeignServerOptions } from './foreign.js';
