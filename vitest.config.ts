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
    // test/ops needs a real PostgreSQL it starts itself: `npm run test:ops` (vitest.ops.config.ts).
    exclude: [...configDefaults.exclude, 'test/ops/**'],
    // PGlite costs ~6 s to boot: one instance per worker, shared across files (isolate: false), each file in its
    // own schema.
    pool: 'forks',
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
