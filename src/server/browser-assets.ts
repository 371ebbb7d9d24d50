import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Browser scripts of the public pages, bundled from TypeScript at the first request with esbuild (the project's own
 * core code, no CDN: the pages work offline) and kept in memory for the process's lifetime.
 */
const ENTRY = { 'verify-statement.js': '../browser/verify-statement.ts', 'explorer.js': '../browser/explorer.ts' } as const;
export type BrowserAsset = keyof typeof ENTRY;

const built = new Map<BrowserAsset, Promise<string>>();

/** The bundled JavaScript of `name` (ES module, minified). Rejects when the bundle cannot be built. */
export function browserAsset(name: BrowserAsset): Promise<string> {
  let js = built.get(name);
  if (!js) {
    js = build({
      entryPoints: [fileURLToPath(new URL(ENTRY[name], import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      legalComments: 'none',
    }).then((r) => r.outputFiles[0]!.text);
    js.catch(() => built.delete(name));
    built.set(name, js);
  }
  return js;
}

export const isBrowserAsset = (name: string): name is BrowserAsset => Object.hasOwn(ENTRY, name);
