/** The operator view (/admin) against a real `grace serve`: signed in with an admin token, live. */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { GraceServer } from './grace';

const TOML = `
[tasks.backup]
command = "sleep 60"
`;

let grace: GraceServer;

test.beforeEach(async () => {
  grace = new GraceServer('alice', TOML);
  await grace.start();
});

test.afterEach(async () => {
  await grace.dispose();
});

async function openAdmin(page: Page) {
  await page.goto(`${grace.running!.url}/admin?token=${encodeURIComponent(grace.token(true))}`);
  await expect(page.getByRole('heading', { name: 'Grace · operator view' })).toBeVisible();
  await expect(page.getByTestId('updated')).toHaveText(/^Updated /);
}

test('an admin sees a task appear, and who is connected, without reloading', async ({ page, context }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openAdmin(page);
  expect(new URL(page.url()).search).toBe(''); // the token left the address bar at once
  await expect(page.getByText('No task is running.')).toBeVisible();

  const chat = await context.newPage();
  await chat.goto(grace.running!.loginUrl);
  await expect(chat.getByTestId('connection')).toHaveText(/^Connected/);
  const task = await grace.api<{ task_id: string }>('POST', '/api/tasks', { task_type: 'backup' }, 'user');

  const row = page.getByTestId('tasks').getByRole('row', { name: new RegExp(task.task_id) });
  await expect(row).toBeVisible();
  await expect(row).toContainText('alice');
  await expect(page.getByTestId('users').getByRole('row', { name: /alice/ })).toBeVisible();

  await grace.api('POST', `/api/tasks/${task.task_id}/cancel`, {}, 'user');
  await expect(page.getByText('No task is running.')).toBeVisible();

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const result = await new AxeBuilder({ page }).analyze();
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(serious.map((v) => `${v.id}: ${v.help}`), scheme).toEqual([]);
  }
  expect(errors).toEqual([]);
});

test('a token without the admin claim is refused with a way forward', async ({ page }) => {
  await page.goto(`${grace.running!.url}/admin`);
  await page.getByLabel('Admin token').fill(grace.token(false));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('admin token');
  await page.getByLabel('Admin token').fill(grace.token(true));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('updated')).toHaveText(/^Updated /);
});
