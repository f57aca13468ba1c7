// Headless Chromium (Debian's) at the portal, on a phone-sized screen, driven by playwright-core.
// Run by the Rust integration test `portal::a_person_uses_the_portal_in_a_real_browser_on_a_phone`:
//
//   node tests/browser/portal.mjs '<json>'
//
// with {portal, username, password, userDataDir, shots: {home, trail}, javaScript}. It logs in through
// the form, reads the person's page, filters the trail to refusals with the form (htmx swaps the
// table when JavaScript runs; a plain GET when it does not), and logs out. It prints one JSON object:
// {steps: [{name, url, status?, text, overflow, error?}]}. Assertions are the Rust test's.
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);

const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.executablePath ?? '/usr/bin/chromium',
  headless: true,
  // A phone: narrow, touch, a high-density screen.
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  javaScriptEnabled: cfg.javaScript,
  timeout: 60_000,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const steps = [];
async function step(page, name, action, shot) {
  const r = { name };
  try {
    const response = await action();
    if (response && typeof response.status === 'function') r.status = response.status();
    r.url = page.url();
    r.text = await page.innerText('body');
    // Wider than the screen: the page would scroll sideways on a phone.
    r.overflow = await page.evaluate(
      () => document.documentElement.scrollWidth > window.innerWidth + 1,
    );
    if (shot) {
      await page.screenshot({ path: shot, fullPage: true });
      r.screenshot = shot;
    }
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
  }
  steps.push(r);
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  await step(page, 'login form', () => page.goto(`${cfg.portal}/login`, { waitUntil: 'load' }));
  await step(
    page,
    'home',
    async () => {
      await page.fill('input[name=username]', cfg.username);
      await page.fill('input[name=password]', cfg.password);
      const [response] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form.login button[type=submit]'),
      ]);
      return response;
    },
    cfg.shots.home,
  );
  await step(page, 'trail', () => page.goto(`${cfg.portal}/me/audit`, { waitUntil: 'load' }));
  await step(
    page,
    'refusals',
    async () => {
      await page.selectOption('select[name=decision]', 'deny');
      if (cfg.javaScript) {
        // htmx: the table is swapped in place and the address updated.
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url().includes('/me/audit?')),
          page.click('form.filters button[type=submit]'),
        ]);
        await page.waitForURL(/decision=deny/);
        return response;
      }
      const [response] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form.filters button[type=submit]'),
      ]);
      return response;
    },
    cfg.shots.trail,
  );
  await step(page, 'logout', async () => {
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('header form button[type=submit]'),
    ]);
    return response;
  });
  await step(page, 'after logout', () => page.goto(`${cfg.portal}/`, { waitUntil: 'load' }));
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify({ steps }) + '\n');
