import { createRequire } from 'node:module';
import { configDefaults, defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports" map: Node (and so graphql-yoga) loads its CommonJS build while Vite would pick
    // index.mjs, giving two GraphQLError classes. Pin the one Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Separate runs with their own configs: `npm run test:conformance` (needs GS1's files), `npm run test:browser`, and
    // `npm run test:ops` (a real PostgreSQL it starts itself).
    exclude: [...configDefaults.exclude, 'test/conformance/**', 'test/browser/**', 'test/ops/**'],
    // PGlite costs ~6 s to boot: one instance per worker, shared across files (isolate: false), each file in its
    // own schema.
    pool: 'forks',
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
