import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** `npm run test:browser`: pages rendered by headless Chromium (Debian's /usr/bin/chromium through playwright-core). */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/browser/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
  },
});
