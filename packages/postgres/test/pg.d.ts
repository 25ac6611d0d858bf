export declare const databaseUrl: () => Promise<string>
/** A fresh schema name, so test files can run in parallel on one database. */
export declare const freshSchema: (prefix?: string) => string
export declare const dropSchema: (url: string, schema: string) => Promise<void>
//# sourceMappingURL=pg.d.ts.map
