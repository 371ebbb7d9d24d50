/**
 * GraphiQL at GET /graphql, served whole from this server: the page, its scripts, styles and editor workers come from
 * the npm package `@graphql-yoga/render-graphiql` (GraphiQL bundled inline), so it renders on an offline or
 * air-gapped network. graphql-yoga's default page would load them from a CDN and stay on "Loading…".
 */
import type { GraphiQLOptions } from 'graphql-yoga';

/** The editor's first content: how to authenticate, and two first queries. */
export const GRAPHIQL_WELCOME = `# Welcome to Provenant's GraphQL API.
#
# Every request needs an API key. Open the
# Headers tab below and put your key there:
#
#   {"authorization": "Bearer pvn_…"}
#
# The operator's key is printed on the server's
# first start; actors get theirs from createActor
# or issueApiKey. Run an operation with ▶.

# Who am I?
query Viewer {
  viewer { id name roles }
}

# An item by its SGTIN (or its Digital Link:
# item(digitalLink: "https://id.gs1.org/01/…/21/…"))
query Item {
  item(sgtin: "urn:epc:id:sgtin:9506000.013435.SN-1") {
    sgtin stage recalled
    custodian { name }
    events(first: 10) {
      edges { node { kind occurredAt location } }
    }
  }
}
`;

/**
 * What the page shows. The Headers tab starts empty on purpose: a placeholder key there would make the server refuse
 * GraphiQL's schema introspection until it is replaced.
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'Provenant',
  defaultQuery: GRAPHIQL_WELCOME,
};

const rendered = new Map<string, string>();

/**
 * Renders the GraphiQL page for yoga's `renderGraphiQL` option. The ~9 MB bundle is imported on the first request
 * only (servers that never show GraphiQL do not load it), and each page is built once per distinct options.
 */
export async function renderOfflineGraphiQL(options: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(options ?? {});
  const cached = rendered.get(key);
  if (cached !== undefined) return cached;
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const html = renderGraphiQL(options);
  if (rendered.size >= 4) rendered.clear(); // options are static in practice; never let the cache grow
  rendered.set(key, html);
  return html;
}
