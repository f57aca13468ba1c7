// Ask, approve, browse in a real browser: Debian's Chromium driven by playwright-core, using the
// gateway as its proxy. Run by the Rust integration test
// `portal_e2e::a_refused_person_asks_an_approver_approves_and_the_page_loads_in_a_real_browser`:
//
//   node tests/browser/ask_approve.mjs '<json>'
//
// with {proxy, portal, page, user: {username, password}, approver: {username, password}, purpose,
// shots}. The person's browser opens `page` through the gateway and is refused; follows the refusal
// page's link to the portal (log in first), where the request form is filled in with the
// destination; states `purpose` and asks. The approver, in a second browser context, logs in and
// approves in /review. The person reloads `page` until it loads (the gateway honours a grant within
// a second; every try before is refused at the gateway), then opens "My activity". Each step
// leaves `shots/NN-name.png`. It prints one JSON object:
// {steps: [{name, url, status?, text, screenshot, error?, …}]}. Assertions are the Rust test's.
//
// Proxying: every request goes through the gateway (with the person's credentials) except the
// portal's own address, which the gateway refuses to relay (it is one of its own sockets).
// `<-loopback>` removes Chromium's implicit bypass of loopback, so a loopback origin goes through
// the proxy too; the later, explicit rule for the portal's host:port wins over it. Chromium's own
// background requests go through the gateway as well, are refused or allowed there like any
// other, and are ignored here.
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const portalHost = new URL(cfg.portal).host;
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const browser = await chromium.launch({
  executablePath: cfg.executablePath ?? '/usr/bin/chromium',
  headless: true,
  timeout: 60_000,
  args,
});
const proxyFor = (who) => ({
  server: cfg.proxy,
  bypass: `<-loopback>,${portalHost}`,
  username: who.username,
  password: who.password,
});

const steps = [];
let n = 0;
// Run `action` (which returns a response, or extra fields for the step), then record where the
// page is, what it says, and a screenshot.
async function step(page, name, action) {
  n += 1;
  const r = { name };
  try {
    const got = await action();
    if (got && typeof got.status === 'function') r.status = got.status();
    else if (got) Object.assign(r, got);
    r.url = page.url();
    r.text = await page.innerText('body');
    const shot = `${cfg.shots}/${String(n).padStart(2, '0')}-${name}.png`;
    await page.screenshot({ path: shot, fullPage: true });
    r.screenshot = shot;
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
  }
  steps.push(r);
  return r;
}

async function submit(page, selector) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click(selector),
  ]);
  return response;
}

async function login(page, who) {
  await page.fill('input[name=username]', who.username);
  await page.fill('input[name=password]', who.password);
  return submit(page, 'form.login button[type=submit]');
}

try {
  const userContext = await browser.newContext({
    proxy: proxyFor(cfg.user),
    viewport: { width: 1000, height: 760 },
  });
  const user = await userContext.newPage();

  const refused = await step(user, 'refused', async () => {
    const response = await user.goto(cfg.page, { waitUntil: 'load' });
    const link = await user.getAttribute('a[href*="/requests/new"]', 'href');
    return { status: response.status(), link };
  });
  await step(user, 'login', () => submit(user, 'a[href*="/requests/new"]'));
  await step(user, 'home', () => login(user, cfg.user));
  // Back to the link she followed, now logged in.
  await step(user, 'form', async () => {
    const response = await user.goto(refused.link, { waitUntil: 'load' });
    return {
      status: response.status(),
      scope: await user.inputValue('form.ask input[name=scope]'),
      destination: await user.inputValue('form.ask input[name=destination]'),
    };
  });
  await step(user, 'asked', async () => {
    await user.fill('form.ask textarea[name=purpose]', cfg.purpose);
    return submit(user, 'form.ask button[type=submit]');
  });

  const approverContext = await browser.newContext({
    proxy: proxyFor(cfg.approver),
    viewport: { width: 1000, height: 760 },
  });
  const approver = await approverContext.newPage();
  await approver.goto(`${cfg.portal}/login`, { waitUntil: 'load' });
  await step(approver, 'approver-home', () => login(approver, cfg.approver));
  await step(approver, 'queue', () => approver.goto(`${cfg.portal}/review`, { waitUntil: 'load' }));
  await step(approver, 'approved', async () => {
    await approver.fill('form[action^="/review/"] input[name=comment]', 'fine for the seminar');
    return submit(approver, 'form[action^="/review/"] button[value=approve]');
  });

  // The person reloads the refused page until it loads.
  await step(user, 'loaded', async () => {
    let response = await user.goto(cfg.page, { waitUntil: 'load' });
    let tries = 1;
    const until = Date.now() + 20_000;
    while (response.status() !== 200 && Date.now() < until) {
      await user.waitForTimeout(100);
      response = await user.reload({ waitUntil: 'load' });
      tries += 1;
    }
    return { status: response.status(), tries };
  });
  await step(user, 'activity', () => user.goto(`${cfg.portal}/me/audit`, { waitUntil: 'load' }));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ steps }) + '\n');
