/**
 * The inbox keeps up with the person: cards read when seen, titles, the same reply after a reload,
 * older pages, per-type preferences, the archive, sign-out, the away summary, the phone layout and
 * automated accessibility checks, all against a real `grace serve`.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraceServer } from './grace';

const TOML = `
[tasks.deployment]
command = "sleep 1; echo deployed"

[tasks.backup]
command = "sleep 60"
`;

let grace: GraceServer;

test.beforeEach(async ({ context }) => {
  grace = new GraceServer('alice', TOML);
  await grace.start();
  await context.addInitScript(awayControl);
});

test.afterEach(async () => {
  await grace.dispose();
});

/**
 * Lets a test put a page in the background: `window.__graceAway = true` makes it hidden and
 * unfocused as far as the page can tell (headless pages are always visible and focused).
 */
function awayControl() {
  const w = window as unknown as { __graceAway?: boolean };
  w.__graceAway = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (w.__graceAway ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => Boolean(w.__graceAway) });
  const hasFocus = Document.prototype.hasFocus;
  Document.prototype.hasFocus = function (this: Document) {
    return w.__graceAway ? false : hasFocus.call(this);
  };
}

async function setAway(page: Page, away: boolean) {
  await page.evaluate((a) => {
    (window as unknown as { __graceAway: boolean }).__graceAway = a;
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event(a ? 'blur' : 'focus'));
  }, away);
}

const cards = (page: Page) => page.getByTestId('notification');
const messages = (page: Page) => cards(page).locator('.message');
const unread = (page: Page) => page.getByTestId('unread-count');

async function open(page: Page, how: 'login' | 'cookie' = 'login') {
  await page.goto(how === 'login' ? grace.running!.loginUrl : grace.running!.url + '/');
  await expect(page.getByTestId('connection')).toHaveText(/^Connected/);
}

async function menu(page: Page, item: string | RegExp) {
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('button', { name: item }).click();
}

async function modeOf(page: Page, title: string) {
  return page.getByTestId('settings').getByLabel(title);
}

async function requestApproval(file: string, expiresIn?: number): Promise<string> {
  const outcome = await grace.api<{ approval_id: string }>('POST', '/api/approvals', {
    action_type: 'modify_file',
    agent: 'learning_supervisor',
    params: { file_path: file },
    user_id: grace.user,
    message: `Learning supervisor wants to modify ${file}`,
    ...(expiresIn ? { expires_in: expiresIn } : {}),
  });
  return outcome.approval_id;
}

test('cards are marked read when seen, the tab title counts the unread, other tabs follow', async ({ context }) => {
  const page = await context.newPage();
  await open(page);
  const other = await context.newPage();
  await open(other, 'cookie');
  await setAway(other, true); // the second tab stays in the background: it reads nothing itself

  await setAway(page, true);
  for (const m of ['one', 'two', 'three']) await grace.publish(m);
  await expect(messages(page)).toHaveText(['one', 'two', 'three']);
  await expect(unread(page)).toHaveText('3');
  await expect(page).toHaveTitle('(3) Grace');
  await expect(other).toHaveTitle('(3) Grace');
  await expect(cards(page).first()).toHaveAttribute('data-read', 'false');

  await setAway(page, false); // the person comes back to the tab: what is on screen is seen
  await expect(unread(page)).toHaveText('0');
  await expect(page).toHaveTitle('Grace');
  await expect(cards(page).first()).toHaveAttribute('data-read', 'true');
  // the other tab heard it from the server, without being looked at
  await expect(unread(other)).toHaveText('0');
  await expect(other).toHaveTitle('Grace');
  await expect(cards(other).first()).toHaveAttribute('data-read', 'true');

  // only what is on screen counts as seen
  await setAway(page, true);
  for (let i = 0; i < 30; i++) await grace.publish(`flood ${i}`);
  await expect(cards(page)).toHaveCount(33);
  await expect(cards(page).last()).toBeInViewport();
  await expect(cards(page).nth(3)).not.toBeInViewport();
  await setAway(page, false);
  await expect.poll(async () => Number(await unread(page).textContent())).toBeGreaterThan(0);
  await expect(cards(page).last()).toHaveAttribute('data-read', 'true');
  await expect(cards(page).nth(3)).toHaveAttribute('data-read', 'false');
  // scrolling back up through the thread reads the rest, card by card as each comes on screen
  const box = (await page.getByTestId('thread').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await expect
    .poll(
      async () => {
        await page.mouse.wheel(0, -200);
        return unread(page).textContent();
      },
      { intervals: [100], timeout: 30_000 },
    )
    .toBe('0');
  await expect(other).toHaveTitle('Grace');
});

test('each card says what it is, from its type and source', async ({ page }) => {
  await open(page);
  await setAway(page, true);
  await grace.publish('Deployment failed: Connection timeout', 'task_failed', { task_id: 't1', task_type: 'deployment' });
  await requestApproval('config.yaml');
  await grace.publish('High memory usage detected', 'error_detected', { source: 'guardian', check: 'memory' });
  await grace.api('POST', '/api/notifications/publish', {
    user_id: grace.user,
    type: 'report_ready',
    message: 'The weekly report is ready',
    title: 'Weekly report',
  });
  await grace.publish('Ingested CRM_API_Spec.md', 'learning_complete', { source: 'CRM_API_Spec.md' });
  await expect(cards(page).locator('.card-title')).toHaveText([
    '❌ Task failed · deployment (unread)',
    '⚠️ Approval needed (unread)',
    '❌ Guardian alert · memory (unread)',
    '🤖 Weekly report (unread)',
    '🧠 Learning complete · CRM_API_Spec.md (unread)',
  ]);
  await expect(page.getByTestId('live-region')).toContainText('Learning complete · CRM_API_Spec.md: Ingested');
});

test('a chat reply looks the same after a reload', async ({ page }) => {
  await open(page);
  const backup = await grace.api<{ task_id: string }>('POST', '/api/tasks', { task_type: 'backup' }, 'user');
  await page.getByLabel('Message Grace').fill('show background tasks');
  await page.keyboard.press('Enter');
  const reply = page.getByTestId('message-grace').last();
  const drawn = async () => ({
    heading: await reply.locator('.card-title').textContent(),
    rows: await reply
      .getByTestId('task')
      .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-task-id'), r.getAttribute('data-state')])),
    text: await reply.locator('.text').count(),
  });
  await expect(reply.locator(`[data-task-id="${backup.task_id}"]`)).toHaveAttribute('data-state', 'running');
  const live = await drawn();
  expect(live).toEqual({ heading: 'Background Tasks (1 active)', rows: [[backup.task_id, 'running']], text: 0 });

  await page.reload();
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(reply.locator(`[data-task-id="${backup.task_id}"]`)).toHaveAttribute('data-state', 'running');
  expect(await drawn()).toEqual(live);
  await expect(page.getByTestId('message-user')).toHaveText(/show background tasks/);
});

test('Load older pages back through history', async ({ page }) => {
  for (let i = 0; i < 130; i++) await grace.publish(`note ${i}`);
  await open(page);
  await expect(cards(page)).toHaveCount(100);
  await expect(messages(page).first()).toHaveText('note 30');
  await page.getByRole('button', { name: 'Load older notifications' }).click();
  await expect(cards(page)).toHaveCount(130);
  await expect(messages(page).first()).toHaveText('note 0');
  await expect(page.getByRole('button', { name: 'Load older notifications' })).toHaveCount(0);
  const seqs = await cards(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  expect(seqs).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));
});

test('per type: show with a desktop alert, silently, or mute; every tab and a reload follow', async ({ context }) => {
  await context.addInitScript(() => {
    const shown: string[] = [];
    (window as unknown as { __alerts: string[] }).__alerts = shown;
    class FakeNotification {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title: string) {
        shown.push(title);
      }
    }
    Object.defineProperty(window, 'Notification', { configurable: true, value: FakeNotification });
  });
  const page = await context.newPage();
  await open(page);
  const other = await context.newPage();
  await open(other, 'cookie');

  await menu(page, 'Notification settings');
  await (await modeOf(page, 'Test notification')).selectOption('mute');
  await (await modeOf(page, 'Task started')).selectOption('silent');
  await expect.poll(() => grace.api<{ modes: Record<string, string> }>('GET', '/api/preferences', undefined, 'user'))
    .toMatchObject({ modes: { test: 'mute', task_started: 'silent' } });

  await setAway(page, true);
  await setAway(other, true);
  await grace.publish('muted one', 'test');
  await grace.publish('quiet one', 'task_started');
  await grace.publish('loud one', 'task_completed');
  for (const p of [page, other]) {
    await expect(messages(p)).toHaveText(['quiet one', 'loud one']); // muted: not shown anywhere
  }
  const alerts = () => page.evaluate(() => (window as unknown as { __alerts: string[] }).__alerts);
  expect(await alerts()).toEqual(['✅ Task completed']); // silent: shown, no desktop alert
  await expect(page.getByTestId('live-region')).toHaveText('Task completed: loud one');
  await expect(unread(page)).toHaveText('2'); // the muted one counts as read

  await other.reload(); // history honours it too
  await expect(other.getByTestId('connection')).toHaveText('Connected');
  await expect(messages(other)).toHaveText(['quiet one', 'loud one']);

  await (await modeOf(page, 'Test notification')).selectOption('alert');
  for (const p of [page, other]) {
    await expect(messages(p)).toHaveText(['muted one', 'quiet one', 'loud one']);
  }
  await grace.publish('heard again', 'test');
  await expect.poll(alerts).toEqual(['✅ Task completed', '🧪 Test notification']);
});

test('archive hides a card everywhere; it can be shown again', async ({ context }) => {
  const page = await context.newPage();
  await open(page);
  const other = await context.newPage();
  await open(other, 'cookie');
  for (const m of ['keep', 'put away', 'keep too']) await grace.publish(m);
  await expect(messages(other)).toHaveText(['keep', 'put away', 'keep too']);
  await cards(page).filter({ hasText: 'put away' }).getByRole('button', { name: /^Archive/ }).click();
  for (const p of [page, other]) await expect(messages(p)).toHaveText(['keep', 'keep too']);
  await page.reload();
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(messages(page)).toHaveText(['keep', 'keep too']);

  await menu(page, 'Show archived (1)');
  const archived = cards(page).filter({ hasText: 'put away' });
  await expect(archived).toHaveClass(/archived/);
  await archived.getByRole('button', { name: /^Unarchive/ }).click();
  await menu(page, 'Hide archived');
  for (const p of [page, other]) await expect(messages(p)).toHaveText(['keep', 'put away', 'keep too']);
  const prefs = await grace.api<{ archived: string[] }>('GET', '/api/preferences', undefined, 'user');
  expect(prefs.archived).toEqual([]);
});

test('Sign out ends the session in this browser', async ({ page }) => {
  await open(page);
  await grace.publish('before signing out');
  await expect(messages(page)).toHaveText(['before signing out']);
  await menu(page, 'Sign out');
  await expect(page.getByTestId('signed-out')).toContainText('You are signed out');
  expect((await page.context().cookies()).find((c) => c.name === 'grace_session')).toBeUndefined();
  await page.reload();
  await expect(page.getByRole('alert').first()).toContainText('Not signed in');
  await expect(cards(page)).toHaveCount(0);
});

/** Open the page, go away, and come back to `missed` notifications (a pending and an expired
 * approval, a failed and a finished task among them). */
async function comeBackTo(page: Page, missed: number): Promise<{ waiting: string; expired: string }> {
  await open(page);
  await grace.publish('seen before leaving');
  await expect(messages(page)).toHaveText(['seen before leaving']);
  await page.goto('about:blank');
  const expired = await requestApproval('old.yaml', 0.5);
  await expect
    .poll(async () => (await grace.api<{ state: string }>('GET', `/api/approvals/${expired}`)).state)
    .toBe('expired');
  const waiting = await requestApproval('config.yaml');
  await grace.publish('Deployment failed: Connection timeout', 'task_failed', {
    task_id: 'deploy_1',
    task_type: 'deployment',
    error: 'Connection timeout',
  });
  await grace.publish('Backup completed successfully', 'task_completed', { task_id: 'backup_1', task_type: 'backup' });
  await grace.publish('High memory usage detected', 'error_detected', { source: 'guardian', check: 'memory' });
  for (let i = 0; i < missed - 6; i++) await grace.publish(`Ingested doc_${i}.pdf`, 'learning_complete', { source: `doc_${i}.pdf` });
  await page.goto(grace.running!.url + '/');
  return { waiting, expired };
}

test('while you were away: one summary before the flood, the cards folded under it', async ({ page }) => {
  const { waiting, expired } = await comeBackTo(page, 24);
  const digest = page.getByTestId('digest');
  await expect(digest).toBeVisible();
  await expect(page.getByTestId('digest-text')).toHaveText(
    '24 notifications while you were away: 1 approval waits for you, 1 expired; 1 task failed, 1 finished.',
  );
  // the flood is folded: only the card from before is in the thread
  await expect(messages(page)).toHaveText(['seen before leaving']);
  await expect(digest.locator(`[data-approval-id="${expired}"]`)).toContainText('Expired while you were away');
  await expect(digest.getByTestId('digest-task')).toHaveText([/Deployment failed/, /Backup completed/]);
  await expect(digest.getByTestId('digest-task').first()).toHaveAttribute('data-state', 'failed');
  await expect(page).toHaveTitle('Grace'); // seeing the summary reads what it covers

  const ask = digest.locator(`[data-approval-id="${waiting}"]`);
  await ask.getByRole('button', { name: /^Approve/ }).click();
  await expect(ask).toHaveAttribute('data-state', 'approved');
  expect((await grace.api<{ state: string }>('GET', `/api/approvals/${waiting}`)).state).toBe('approved');

  await digest.getByRole('button', { name: 'Show 24 notifications' }).click();
  await expect(digest.getByTestId('notification')).toHaveCount(24);
  await expect(digest.getByTestId('notification').first()).toContainText('Approval needed');

  await page.reload(); // the summary stays until it is dismissed
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByTestId('digest')).toBeVisible();
  await expect(messages(page)).toHaveText(['seen before leaving', 'Action approved: modify_file']);
  await page.getByRole('button', { name: 'Dismiss summary' }).click();
  await expect(page.getByTestId('digest')).toHaveCount(0);
  await expect(cards(page)).toHaveCount(26); // 24 + the one before + the approval's decision
});

test('a short absence shows the cards themselves', async ({ page }) => {
  await open(page);
  await page.goto('about:blank');
  for (let i = 0; i < 3; i++) await grace.publish(`missed ${i}`);
  await page.goto(grace.running!.url + '/');
  await expect(messages(page)).toHaveText(['missed 0', 'missed 1', 'missed 2']);
  await expect(page.getByTestId('digest')).toHaveCount(0);
});

async function noSeriousViolations(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    what,
  ).toEqual([]);
}

test('no serious or critical accessibility violations (axe), light and dark, desktop and phone', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await comeBackTo(page, 22);
  await expect(page.getByTestId('digest')).toBeVisible();
  await grace.api('POST', '/api/tasks', { task_type: 'backup' }, 'user');
  await page.getByRole('button', { name: 'Tasks', exact: true }).click();
  await expect(page.getByTestId('task-list').getByTestId('task')).toHaveCount(1);
  await grace.publish('Backup: 40%', 'task_progress', { task_id: 'b2', progress: 0.4 });
  await page.getByRole('button', { name: /^Show 22 notifications/ }).click();
  await menu(page, 'Notification settings');
  await expect(page.getByTestId('settings')).toBeVisible();
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await noSeriousViolations(page, `${scheme}, desktop`);
  }
  await page.setViewportSize({ width: 375, height: 740 });
  await noSeriousViolations(page, 'phone');
  await page.getByRole('button', { name: 'Menu' }).click();
  await noSeriousViolations(page, 'phone, menu open');
  expect(errors).toEqual([]);
});

test('phone: the header on one row, the input hint readable, no console error on load', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 375, height: 740 });
  await open(page);
  await grace.publish('Deployment: 40%', 'task_progress', { task_id: 't1', progress: 0.4 });
  await expect(cards(page)).toHaveCount(1);
  const header = await page.locator('.chat-header').evaluate((h) => {
    const boxes = [...h.querySelectorAll('h1, .connection, .header-actions > *')].map((e) => e.getBoundingClientRect());
    return {
      oneRow: Math.max(...boxes.map((r) => r.top)) < Math.min(...boxes.map((r) => r.bottom)),
      right: Math.max(...boxes.map((r) => r.right)),
      items: boxes.length,
    };
  });
  expect(header).toEqual({ oneRow: true, right: expect.any(Number), items: 5 });
  expect(header.right).toBeLessThanOrEqual(375);
  // the hint fits in the box
  const hint = await page.getByLabel('Message Grace').evaluate((input: HTMLInputElement) => {
    const style = getComputedStyle(input);
    const ctx = document.createElement('canvas').getContext('2d')!;
    ctx.font = `${style.fontSize} ${style.fontFamily}`;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { text: input.placeholder, width: ctx.measureText(input.placeholder).width, room };
  });
  expect(hint.text).toContain('show background tasks');
  expect(hint.width).toBeLessThanOrEqual(hint.room);
  // the progress label is on the bar in both colours, each shown only where it contrasts
  const bar = cards(page).getByRole('progressbar');
  await expect(bar).toHaveAttribute('aria-valuenow', '40');
  const layers = await bar.evaluate((el) => {
    const fill = el.querySelector('.progress-fill')!;
    const [onTrack, onFill] = [...el.querySelectorAll('.progress-text')].map((t) => t.getBoundingClientRect());
    const style = (e: Element) => getComputedStyle(e);
    return {
      filled: Math.round((fill.getBoundingClientRect().width / el.getBoundingClientRect().width) * 100),
      sameText: onTrack.left === onFill.left && onTrack.width === onFill.width, // drawn over each other
      colours: [style(el.querySelector('.progress-text')!).color, style(el.querySelector('.on-fill')!).color],
      grounds: [style(el).backgroundColor, style(fill).backgroundColor],
    };
  });
  expect(layers.filled).toBe(40);
  expect(layers.sameText).toBe(true);
  // dark on the light track, light on the dark fill
  expect(layers.colours[0]).not.toBe(layers.colours[1]);
  expect(layers.grounds[0]).not.toBe(layers.grounds[1]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  expect(overflow).toBe(false);
  expect(errors).toEqual([]);
});

test('screenshot of the away summary for the docs (desktop and phone)', async ({ page }) => {
  await page.setViewportSize({ width: 820, height: 1000 });
  await comeBackTo(page, 23);
  await expect(page.getByTestId('digest')).toBeVisible();
  await page.getByTestId('digest').scrollIntoViewIfNeeded();
  // docs/digest*.png are refreshed on demand (UPDATE_SCREENSHOT=1), so a test run leaves the tree clean
  const out = process.env.UPDATE_SCREENSHOT ? fileURLToPath(new URL('../../docs', import.meta.url)) : test.info().outputDir;
  mkdirSync(out, { recursive: true });
  await page.getByTestId('digest').evaluate((e) => e.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: resolve(out, 'digest.png') });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.getByTestId('digest').evaluate((e) => e.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: resolve(out, 'digest-phone.png') });
});

