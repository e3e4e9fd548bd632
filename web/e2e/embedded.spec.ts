/**
 * The chat served by a host app that embeds Grace (`grace_chat.api.embed`): the page at a path of
 * the host, the API under another prefix. It loads its assets by relative paths, signs in, goes
 * live and shows a notification, all through the prefix.
 */
import { expect, test } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = process.env.GRACE_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/** The host: its own page at `/`, Grace under `/grace`, the chat at `/support/chat/`. */
const HOST = `
import asyncio, sys
from contextlib import asynccontextmanager
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from grace_chat import Settings
from grace_chat.api.embed import embed
from grace_chat.api.server import base_url, listen

sock = listen("127.0.0.1", 0)
url = base_url("127.0.0.1", sock.getsockname()[1])

@asynccontextmanager
async def lifespan(app):
    tokens = grace.tokens
    print("host at", url, tokens.issue("alice"), tokens.issue("ops", admin=True), flush=True)
    yield

app = FastAPI(lifespan=lifespan)

@app.get("/", response_class=HTMLResponse)
async def home():
    return "<h1>The host's own page</h1>"

grace = embed(app, Settings(data_dir=sys.argv[1]), systems={"chat"}, prefix="/grace", web="/support/chat")
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
`;

let proc: ChildProcess | null = null;
let dataDir = '';

test.afterEach(async () => {
  const running = proc;
  proc = null;
  if (running && running.exitCode === null) {
    await new Promise<void>((done) => {
      running.once('exit', () => done());
      running.kill('SIGTERM');
    });
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function startHost(): Promise<{ url: string; token: string; admin: string }> {
  dataDir = mkdtempSync(join(tmpdir(), 'grace-embedded-'));
  const output: string[] = [];
  proc = spawn(PYTHON, ['-c', HOST, join(dataDir, 'grace')], { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const lines = createInterface({ input: proc.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host did not start:\n${output.join('')}`)), 20_000);
    proc!.once('exit', (code) => reject(new Error(`the host exited with ${code}:\n${output.join('')}`)));
    lines.on('line', (line) => {
      const m = /^host at (\S+) (\S+) (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], token: m[2], admin: m[3] });
      }
    });
  });
}

test('the chat mounted at a path of the host finds its API under the prefix', async ({ page }) => {
  const host = await startHost();
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${host.url}/support/chat/?token=${host.token}`);
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  expect(page.url()).not.toContain('token');

  const published = await fetch(`${host.url}/grace/api/notifications/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${host.admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: 'alice', type: 'task_completed', message: 'Shipped from the host' }),
  });
  expect(published.status).toBe(201);
  await expect(page.getByTestId('notification').locator('.message')).toHaveText(['Shipped from the host']);
  expect(failed).toEqual([]);

  // the host's own page is still the host's
  const home = await fetch(host.url + '/');
  expect(await home.text()).toContain("The host's own page");
});
