import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { createContext, type AppDeps, type Context } from '../graphql/context.ts';
import { schema } from '../graphql/schema.ts';
import type { Logger } from './logger.ts';

/** The HTTP handler: GraphQL (with GraphiQL) at /graphql. Unexpected errors are masked in responses and logged. */
export function createApp(deps: AppDeps, logger: Logger): YogaServerInstance<{}, Context> {
  return createYoga<{}, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: { title: 'Provenant' },
    landingPage: false,
    context: (initial) => createContext(deps, initial),
    maskedErrors: {
      // Yoga's masking (no stack, no SQL in responses), plus a log line with the real cause for operators.
      maskError: (error, message, isDev) => {
        const masked = maskError(error, message, false);
        if (masked !== error) logger.error('unexpected error', { error: (error as { originalError?: unknown }).originalError ?? error });
        void isDev;
        return masked;
      },
    },
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0]), { detail: args.slice(1) }),
    },
  });
}
