/** A real `grace serve` on loopback (port 0, temporary data dir) for the end-to-end tests. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GRACE = process.env.GRACE_BIN ?? join(ROOT, '.venv', 'bin', 'grace');
const PYTHON = process.env.GRACE_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

export interface Running {
  url: string; // http://127.0.0.1:PORT
  loginUrl: string; // .../?token=…
  port: number;
}

export class GraceServer {
  readonly dataDir: string;
  readonly user: string;
  private proc: ChildProcess | null = null;
  private output: string[] = [];
  running: Running | null = null;
  private adminToken: string | null = null;
  private userToken: string | null = null;

  constructor(user = 'alice', toml = '') {
    this.dataDir = mkdtempSync(join(tmpdir(), 'grace-e2e-'));
    this.user = user;
    if (toml) writeFileSync(join(this.dataDir, 'grace.toml'), toml);
  }

  /** Start (again, on the same port when restarting) and wait for the "running at" line. */
  async start(port = 0): Promise<Running> {
    const proc = spawn(
      GRACE,
      ['serve', '--port', String(port), '--data-dir', this.dataDir, '--user', this.user, '--log-level', 'warning'],
      { cwd: this.dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    proc.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    const lines = createInterface({ input: proc.stdout! });
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`grace serve did not start:\n${this.output.join('')}`)), 20_000);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`grace serve exited with ${code}:\n${this.output.join('')}`));
      });
      lines.on('line', (line) => {
        const m = /Grace is running at (\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
    });
    const base = new URL(url);
    this.running = { url: base.origin, loginUrl: url, port: Number(base.port) };
    return this.running;
  }

  /** Stop the server (SIGTERM) and wait until it has exited. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    this.proc = null;
    await new Promise<void>((done) => {
      proc.once('exit', () => done());
      proc.kill('SIGTERM');
    });
  }

  async restart(): Promise<Running> {
    const port = this.running!.port;
    await this.stop();
    return this.start(port);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  token(admin = false): string {
    if (admin && this.adminToken) return this.adminToken;
    if (!admin && this.userToken) return this.userToken;
    const args = ['token', admin ? 'e2e-admin' : this.user, '--data-dir', this.dataDir];
    if (admin) args.push('--admin');
    const token = execFileSync(GRACE, args, { cwd: this.dataDir }).toString().trim();
    if (admin) this.adminToken = token;
    else this.userToken = token;
    return token;
  }

  async api<T = unknown>(method: string, path: string, body?: unknown, as: 'admin' | 'user' = 'admin'): Promise<T> {
    const response = await fetch(this.running!.url + path, {
      method,
      headers: { Authorization: `Bearer ${this.token(as === 'admin')}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  publish(message: string, type = 'task_completed', data: Record<string, unknown> = {}) {
    return this.api<{ seq: number }>('POST', '/api/notifications/publish', { user_id: this.user, type, message, data });
  }

  /** Write a notification straight into the data dir's log while no server runs. */
  publishOffline(messages: string[]): void {
    const script = `
import asyncio, json, sys
from pathlib import Path
from grace_chat import Grace, Settings
async def main():
    async with Grace(Settings(data_dir=Path(sys.argv[1]))) as grace:
        for m in json.loads(sys.argv[3]):
            await grace.notify_user(sys.argv[2], "task_completed", m)
asyncio.run(main())
`;
    execFileSync(PYTHON, ['-c', script, this.dataDir, this.user, JSON.stringify(messages)], { cwd: this.dataDir });
  }
}
