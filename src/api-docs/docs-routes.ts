import { Hono } from 'hono';
import { problem } from '../http/problem.js';
import { openApiDocument } from './openapi.js';

export interface DocsDeps {
  /**
   * The reference page's script (Scalar's browser bundle), which the runtime reads from its own
   * copy of the package: the page loads nothing from outside the gateway. Absent, /docs/scalar.js
   * is 404 and the page shows only its fallback text.
   */
  referenceScript?: (() => Promise<string>) | undefined;
}

/** Scalar's settings: nothing fetched from outside (fonts, telemetry, its hosted client). */
const SCALAR_CONFIG = {
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: 'never',
  // the page links nowhere outside the gateway: Scalar's own credit and upsell links are hidden
  customCss: 'a[href^="http://"], a[href^="https://"] { display: none !important; }',
};

const page = (nonce: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="csp-nonce" content="${nonce}">
<link rel="icon" href="data:,">
<title>rushgate API reference</title>
</head>
<body>
<div id="app"><noscript>The reference needs JavaScript; the document itself is at
<a href="/openapi.json">/openapi.json</a>.</noscript></div>
<script src="/docs/scalar.js" nonce="${nonce}"></script>
<script nonce="${nonce}">Scalar.createApiReference('#app', ${JSON.stringify(SCALAR_CONFIG)});</script>
</body>
</html>
`;

/**
 * Only the gateway's own scripts (by nonce) and origin: a reference that tried to fetch fonts or
 * report telemetry elsewhere is stopped by the browser, not just asked not to.
 */
const pageHeaders = (nonce: string): Record<string, string> => ({
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self' 'unsafe-inline'; ` +
    "connect-src 'self'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
});

/**
 * GET /openapi.json (built on first request, then kept), GET /docs (the interactive reference)
 * and GET /docs/scalar.js. Nothing here runs on any other route.
 */
export function docsRoutes({ referenceScript }: DocsDeps) {
  let document: string | undefined;
  let script: Promise<string> | undefined;
  return new Hono()
    .get('/openapi.json', (c) => {
      document ??= JSON.stringify(openApiDocument());
      return c.body(document, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' });
    })
    .get('/docs', (c) => {
      const nonce = crypto.randomUUID();
      return c.body(page(nonce), 200, pageHeaders(nonce));
    })
    .get('/docs/scalar.js', async (c) => {
      if (!referenceScript) throw problem('not_found', 'this runtime serves no reference script');
      let body: string;
      try {
        script ??= referenceScript();
        body = await script;
      } catch (err) {
        script = undefined;
        // a missing package file is an install's fault, not a passing one: no Retry-After
        throw problem('not_found', `the reference script could not be read: ${(err as Error).message}`);
      }
      return c.body(body, 200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'public, max-age=3600',
        'X-Content-Type-Options': 'nosniff',
      });
    });
}
