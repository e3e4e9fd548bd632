import { describe, expect, it } from 'vitest';
import { isNotificationFrame, parseFrames } from './parse.js';
import { CLOSE_CODES, CONTROL_FRAMES, ERROR_CODES, PROTOCOL_VERSION } from './protocol.js';
import schemaJson from '../protocol.schema.json';
import { COMMAND_FIELDS, ENUMERATIONS, FRAME_FIELDS, OBJECT_FIELDS, OPEN_FRAMES } from './schemaFields.js';

interface ObjectSchema {
  properties: Record<string, PropertySchema>;
  required?: string[];
  additionalProperties?: boolean;
  $defs?: Record<string, ObjectSchema | EnumSchema>;
}
interface PropertySchema {
  $ref?: string;
  enum?: string[];
  const?: string;
}
interface EnumSchema {
  enum: string[];
}
interface Schema {
  protocol: number;
  commands: Record<string, ObjectSchema>;
  frames: Record<string, ObjectSchema>;
  error_codes: string[];
  close_codes: Record<string, number>;
  control_frames: string[];
}
const schema = schemaJson as unknown as Schema;
type Spec = Record<string, 'required' | 'optional'>;

/** How a TypeScript field list and a schema object disagree (empty when they agree). */
function drift(spec: Spec, server: ObjectSchema): string[] {
  const required = new Set(server.required ?? []);
  const problems: string[] = [];
  for (const field of Object.keys(server.properties)) {
    if (!(field in spec)) problems.push(`${field}: not declared in TypeScript`);
  }
  for (const [field, presence] of Object.entries(spec)) {
    if (!(field in server.properties)) problems.push(`${field}: not in the schema`);
    else if ((presence === 'required') !== required.has(field)) {
      problems.push(`${field}: ${presence} in TypeScript, ${required.has(field) ? 'required' : 'optional'} in the schema`);
    }
  }
  return problems.sort();
}

/** The objects (`$defs` with properties) and enumerations the frames use, gathered from all. */
function gather(frames: Record<string, ObjectSchema>) {
  const objects: Record<string, ObjectSchema> = {};
  const enums: Record<string, string[]> = {};
  const enumsOf = (owner: string, object: ObjectSchema, defs: ObjectSchema['$defs']) => {
    for (const [field, property] of Object.entries(object.properties)) {
      const target = property.$ref ? defs?.[property.$ref.replace('#/$defs/', '')] : property;
      if (target && 'enum' in target && target.enum) enums[`${owner}.${field}`] = target.enum;
    }
  };
  for (const [name, frame] of Object.entries(frames)) {
    enumsOf(name, frame, frame.$defs);
    for (const [defName, def] of Object.entries(frame.$defs ?? {})) {
      if (!('properties' in def)) continue;
      if (objects[defName]) expect(def, `${defName} differs between frames`).toEqual(objects[defName]);
      objects[defName] = def;
      enumsOf(defName, def, frame.$defs);
    }
  }
  return { objects, enums };
}

describe('the TypeScript protocol matches the server’s JSON Schema', () => {
  it('has the same version', () => {
    expect(schema.protocol).toBe(PROTOCOL_VERSION);
  });

  it('knows exactly the server’s commands', () => {
    expect(Object.keys(COMMAND_FIELDS).sort()).toEqual(Object.keys(schema.commands).sort());
  });

  it.each(Object.keys(COMMAND_FIELDS))('declares the fields of the %s command as the server does', (name) => {
    expect(drift(COMMAND_FIELDS[name as keyof typeof COMMAND_FIELDS], schema.commands[name])).toEqual([]);
  });

  it('knows exactly the server’s frames', () => {
    expect(Object.keys(FRAME_FIELDS).sort()).toEqual(Object.keys(schema.frames).sort());
  });

  it.each(Object.keys(FRAME_FIELDS))('declares the fields of the %s frame as the server does', (name) => {
    const frame = schema.frames[name];
    expect(drift(FRAME_FIELDS[name as keyof typeof FRAME_FIELDS], frame)).toEqual([]);
    expect(frame.additionalProperties).toBe(OPEN_FRAMES.includes(name as keyof typeof FRAME_FIELDS));
    if (name !== 'notification') expect(frame.properties.type.const).toBe(name);
  });

  const { objects, enums } = gather(schema.frames);

  it('knows exactly the objects frames carry', () => {
    expect(Object.keys(OBJECT_FIELDS).sort()).toEqual(Object.keys(objects).sort());
  });

  it.each(Object.keys(OBJECT_FIELDS))('declares the fields of %s as the server does', (name) => {
    expect(drift(OBJECT_FIELDS[name as keyof typeof OBJECT_FIELDS], objects[name])).toEqual([]);
  });

  it('knows every enumerated field and its values', () => {
    expect(Object.keys(ENUMERATIONS).sort()).toEqual(Object.keys(enums).sort());
    for (const [field, values] of Object.entries(ENUMERATIONS)) {
      expect([...values].sort(), field).toEqual([...enums[field]].sort());
    }
  });

  it('knows the error codes, close codes and control frames', () => {
    expect([...ERROR_CODES].sort()).toEqual([...schema.error_codes].sort());
    expect(CLOSE_CODES).toEqual(schema.close_codes);
    expect([...CONTROL_FRAMES].sort()).toEqual([...schema.control_frames].sort());
  });
});

describe('the drift check', () => {
  const read = schema.frames.read;

  it('reports a field the server added', () => {
    const server = { ...read, properties: { ...read.properties, extra: {} }, required: [...read.required!, 'extra'] };
    expect(drift(FRAME_FIELDS.read, server)).toEqual(['extra: not declared in TypeScript']);
  });

  it('reports a field only TypeScript declares, and a disagreement on presence', () => {
    expect(drift({ ...FRAME_FIELDS.read, extra: 'optional' }, read)).toEqual(['extra: not in the schema']);
    expect(drift({ ...FRAME_FIELDS.read, ids: 'optional' }, read)).toEqual([
      'ids: optional in TypeScript, required in the schema',
    ]);
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

  it('skips values that are not frames and throws on a line that is not JSON', () => {
    expect(parseFrames('[1]\n"x"\n{"seq":1}\n\n{"type":"pong"}')).toEqual([{ type: 'pong' }]);
    expect(() => parseFrames('{"type":"pong"}\n{oops')).toThrow(SyntaxError);
  });

  it('never takes a control frame for a notification', () => {
    expect(isNotificationFrame({ type: 'read', id: 'x', seq: 3 })).toBe(false);
    expect(isNotificationFrame({ type: 'task_started', id: 'x' })).toBe(false);
    expect(isNotificationFrame(null)).toBe(false);
  });
});
