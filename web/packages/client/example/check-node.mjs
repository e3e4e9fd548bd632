// The root entry loads in Node.js without React, and the schema ships with the package.
// Also type-checked under NodeNext resolution (tsconfig.node.json), as a Node.js project sees it.
import { GraceClient, PROTOCOL_VERSION, parseFrames } from 'grace-chat-client';
import schema from 'grace-chat-client/protocol.schema.json' with { type: 'json' };

if (typeof GraceClient !== 'function') throw new Error('GraceClient is not exported');
if (schema.protocol !== PROTOCOL_VERSION) throw new Error(`the schema is not protocol v${PROTOCOL_VERSION}`);
if (!schema.$id.includes(`/v${PROTOCOL_VERSION}/`)) throw new Error('the schema has no versioned $id');
const [frame] = parseFrames('{"type":"pong"}');
if (frame?.type !== 'pong') throw new Error('parseFrames failed');
console.log(`grace-chat-client loads in Node.js: protocol v${PROTOCOL_VERSION}, schema ${schema.$id}`);
