import { describe, expect, it } from 'vitest';
import schema from './protocol.schema.json';
import {
  CLOSE_CODES,
  COMMAND_FIELDS,
  CONTROL_FRAMES,
  ERROR_CODES,
  PROTOCOL_VERSION,
  isNotificationFrame,
  parseFrames,
} from './protocol';

interface CommandSchema {
  properties: Record<string, unknown>;
  required?: string[];
}

describe('the TypeScript protocol matches the server’s JSON Schema', () => {
  const commands = schema.commands as unknown as Record<string, CommandSchema>;

  it('has the same version', () => {
    expect(schema.protocol).toBe(PROTOCOL_VERSION);
  });

  it('knows exactly the server’s commands', () => {
    expect(Object.keys(COMMAND_FIELDS).sort()).toEqual(Object.keys(commands).sort());
  });

  it.each(Object.keys(COMMAND_FIELDS))('declares the fields of %s as the server does', (name) => {
    const spec = COMMAND_FIELDS[name as keyof typeof COMMAND_FIELDS] as Record<string, string>;
    const server = commands[name];
    expect(Object.keys(spec).sort()).toEqual(Object.keys(server.properties).sort());
    const required = Object.entries(spec)
      .filter(([, v]) => v === 'required')
      .map(([k]) => k)
      .sort();
    expect(required).toEqual([...(server.required ?? [])].sort());
  });

  it('knows the error codes, close codes and control frames', () => {
    expect([...ERROR_CODES].sort()).toEqual([...schema.error_codes].sort());
    expect(CLOSE_CODES).toEqual(schema.close_codes);
    expect([...CONTROL_FRAMES].sort()).toEqual([...schema.control_frames].sort());
  });
});

describe('frames', () => {
  it('splits packed frames and tells notifications from control frames', () => {
    const frames = parseFrames(
      '{"type":"welcome","user_id":"u","epoch":"e","seq":2,"unread":0,"protocol":1}\n' +
        '{"type":"task_completed","id":"a","seq":2,"message":"m"}\n{"type":"synced","seq":2}\n',
    );
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'task_completed', 'synced']);
    expect(frames.map(isNotificationFrame)).toEqual([false, true, false]);
  });
});
