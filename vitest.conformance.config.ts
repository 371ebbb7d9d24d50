import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:conformance`: the project's EPCIS validation and exports against GS1's own JSON Schema and examples,
 * read from PROVENANT_GS1_DIR (not shipped; see README). Fails, naming the variable, when they are missing.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/conformance/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    globalSetup: ['test/conformance/global-setup.ts'],
  },
});
