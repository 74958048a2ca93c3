// Drives the Debian Chromium (never a browser downloaded from npm) through puppeteer-core, as a
// person would use Subreg's pages, and runs axe-core in the page. One command per run; prints
// one JSON document.
//
//   node browser.mjs audit <url>                 what a person sees, and axe-core's violations
//   node browser.mjs subscribe <base> <email>    subscribes by filling in the form
//   node browser.mjs confirm <confirm-url>       presses the confirmation button
//   node browser.mjs object <base> <key> <customer> <email> <reason>
//   node browser.mjs graphiql <base>             opens GraphiQL and waits for its editor
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const [command, ...args] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'subreg-chromium-'));
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    `--user-data-dir=${profile}`,
  ],
});

/** What a person sees on the page, and what axe-core finds wrong with it. */
async function look(page) {
  const seen = await page.evaluate(() => ({
    title: document.title,
    lang: document.documentElement.lang,
    heading: document.querySelector('h1')?.innerText ?? '',
    text: document.body.innerText,
    tableHeaders: [...document.querySelectorAll('table th[scope=col]')].map((th) => th.innerText),
    rows: [...document.querySelectorAll('table tbody tr')].map((tr) =>
      [...tr.querySelectorAll('th, td')].map((c) => c.innerText)),
    links: [...document.querySelectorAll('a')].map((a) => ({ text: a.innerText, href: a.getAttribute('href') })),
    scripts: document.scripts.length,
    overflowsPhone: document.documentElement.scrollWidth > window.innerWidth,
  }));
  // Through DevTools, which the page's Content-Security-Policy does not govern.
  await page.evaluate(axeSource);
  const axe = await page.evaluate(async () => {
    if (!window.axe) return { violations: [{ id: 'axe-not-loaded' }] };
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return { violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html) })) };
  });
  return { ...seen, violations: axe.violations };
}

let out;
try {
  const page = await browser.newPage();
  // A phone's viewport: the page must be readable without zooming out.
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  const cspViolations = [];
  page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text()); });
  if (command === 'audit') {
    await page.goto(args[0], { waitUntil: 'load' });
    out = await look(page);
  } else if (command === 'subscribe') {
    const [base, email] = args;
    await page.goto(`${base}/subprocessors`, { waitUntil: 'load' });
    await Promise.all([page.waitForNavigation(), page.click('a[href="/subprocessors/subscribe"]')]);
    const form = await look(page);
    await page.type('#email', email);
    await page.click('#scope-announcements');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/subprocessors/subscribe"] button[type=submit]')]);
    out = { form, answer: await look(page) };
  } else if (command === 'confirm') {
    await page.goto(args[0], { waitUntil: 'load' });
    const before = await look(page);
    await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
    out = { before, answer: await look(page) };
  } else if (command === 'object') {
    const [base, key, customer, email, reason] = args;
    await page.goto(`${base}/subprocessors`, { waitUntil: 'load' });
    await page.type(`#customer-${key}`, customer);
    await page.type(`#contact-${key}`, email);
    await page.type(`#reason-${key}`, reason);
    await Promise.all([page.waitForNavigation(), page.click(`#object-${key} button[type=submit]`)]);
    out = { answer: await look(page) };
  } else if (command === 'graphiql') {
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${args[0]}/graphql`, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 15000 });
    out = { rendered: true, title: await page.title() };
  } else {
    throw new Error(`unknown command ${command}`);
  }
  out.cspViolations = cspViolations;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
