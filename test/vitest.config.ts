import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Two projects, told apart by folder:
 *  - unit: everything outside test/integration/; pure code, no services, runs in seconds;
 *  - integration: test/integration/; real Apache Kafka and Mosquitto, started once per run by
 *    test/integration/global-setup.ts on free loopback ports and stopped afterwards (tests of
 *    the service scripts, in test/integration/infra/, start their own).
 * `npm test` runs both; `npm run test:unit` / `npm run test:integration` one each.
 */
export default defineConfig({
  test: {
    root,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          // The services are shared; files run one at a time so a failover test that kills
          // brokers cannot disturb another file's measurements.
          fileParallelism: false,
        },
      },
    ],
  },
});
