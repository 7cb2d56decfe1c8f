// The npm @openai/agents session class (OpenAIConversationsSession) against a live convstore:
// lazy start, add/get/limit/pop/clear, and two Runner.run turns with an offline scripted model
// (a tool call after a reasoning item). Prints one JSON object; tests/items/test_agents_node.py
// asserts on it. Usage: CONVSTORE_BASE_URL=http://…/openai/v1 KEY=… node session.mjs
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  Agent,
  OpenAIConversationsSession,
  Runner,
  Usage,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import { z } from 'zod';

setTracingDisabled(true);
const client = new OpenAI({ baseURL: process.env.CONVSTORE_BASE_URL, apiKey: process.env.KEY, maxRetries: 0 });
const REASONING_ID = 'rs_68af4030592c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f';

// Session primitives.
const session = new OpenAIConversationsSession({ client });
assert.equal(session.sessionId, undefined); // lazily started
assert.deepEqual(await session.getItems(), []);
const conversationId = await session.getSessionId();
// The JS class sends one request per addItems call: at most 20 items, as on OpenAI.
const many = Array.from({ length: 15 }, (_, i) => ({ type: 'message', role: 'user', content: `m${i}` }));
await session.addItems(many.slice(0, 10));
await session.addItems(many.slice(10));
const all = await session.getItems();
const texts = (items) => items.map((i) => i.content[0].text);
assert.deepEqual(texts(all), many.map((m) => m.content));
assert.deepEqual(texts(await session.getItems(3)), ['m12', 'm13', 'm14']);
assert.equal((await session.popItem()).content[0].text, 'm14');
assert.equal((await session.getItems()).length, 14);
await session.clearSession();

// Two turns with a scripted model; the second on a new session object of the same conversation.
class ScriptedModel {
  constructor(outputs) {
    this.outputs = outputs;
    this.inputs = [];
  }
  async getResponse(request) {
    this.inputs.push(structuredClone(request.input));
    return { usage: new Usage(), output: this.outputs.shift() };
  }
  async *getStreamedResponse() {
    throw new Error('not used');
  }
}
const assistant = (text, id) => ({
  type: 'message',
  id,
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const model = new ScriptedModel([
  [
    { type: 'reasoning', id: REASONING_ID, content: [{ type: 'input_text', text: 'Look up the weather.' }] },
    {
      type: 'function_call',
      id: 'fc_68af4031aa2c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f',
      callId: 'call_weather_1',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    },
  ],
  [assistant('It is 18C in Paris.', 'msg_1')],
  [assistant('Tomorrow looks the same.', 'msg_2')],
]);
const getWeather = tool({
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `18C in ${city}`,
});
const agent = new Agent({ name: 'weather', instructions: 'Answer briefly.', model, tools: [getWeather] });
const runner = new Runner({ tracingDisabled: true });
const first = new OpenAIConversationsSession({ client });
const one = await runner.run(agent, 'Weather in Paris?', { session: first });
assert.equal(one.finalOutput, 'It is 18C in Paris.');
const second = new OpenAIConversationsSession({ client, conversationId: await first.getSessionId() });
const two = await runner.run(agent, 'And tomorrow?', { session: second });
assert.equal(two.finalOutput, 'Tomorrow looks the same.');
const stored = await client.conversations.items.list(await first.getSessionId(), { order: 'asc' });

console.log(
  JSON.stringify({
    conversationId,
    replayed: model.inputs[2],
    stored: stored.data.map((i) => ({ type: i.type, id: i.id, role: i.role })),
  }),
);
