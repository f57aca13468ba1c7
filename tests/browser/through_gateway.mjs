// Headless Chromium (Debian's, at /usr/bin/chromium) through the gateway, driven by playwright-core.
// Run by the Rust integration test `clients::headless_chromium_through_playwright`:
//
//   node tests/browser/through_gateway.mjs '<json>'
//
// with {proxy, username, password, userDataDir, pages: [{name, url, screenshot?}]}. Loads each page
// in order and prints one JSON object on stdout: {pages: [{name, status, title, text, error?}]}.
// Assertions are the Rust test's: this script only reports what the browser saw.
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);

const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.executablePath ?? '/usr/bin/chromium',
  headless: true,
  proxy: { server: cfg.proxy, username: cfg.username, password: cfg.password },
  // The TLS origin's certificate is self-signed for origin.test.
  ignoreHTTPSErrors: true,
  viewport: { width: 1000, height: 700 },
  timeout: 60_000,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const results = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  for (const p of cfg.pages) {
    const r = { name: p.name, url: p.url };
    try {
      const response = await page.goto(p.url, { timeout: 30_000, waitUntil: 'load' });
      r.status = response ? response.status() : null;
      r.title = await page.title();
      r.text = await page.innerText('body');
      if (p.screenshot) {
        await page.screenshot({ path: p.screenshot, fullPage: true });
        r.screenshot = p.screenshot;
      }
    } catch (e) {
      r.error = String(e && e.message ? e.message : e);
    }
    results.push(r);
  }
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify({ pages: results }) + '\n');
