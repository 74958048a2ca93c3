// Subscribes to subprocessorChanges with the graphql-ws reference client, prints COUNT events
// (one JSON document per line) and disconnects.
// Usage: node subscribe.mjs ws://127.0.0.1:8080/graphql AFTER_CURSOR COUNT [API_KEY]
// The key, when given, authenticates the connection in connection_init.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, after, countText, key] = process.argv.slice(2);
const count = Number(countText);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  lazy: true,
  connectionParams: key ? { Authorization: `Bearer ${key}` } : undefined,
});
let received = 0;
const timeout = setTimeout(() => {
  console.error(`timed out after ${received} of ${count} events`);
  process.exit(1);
}, 20000);

await new Promise((resolve, reject) => {
  const unsubscribe = client.subscribe(
    {
      query: `subscription($after: String) {
        subprocessorChanges(after: $after) { cursor sequence kind recipientId }
      }`,
      variables: { after },
    },
    {
      next: (result) => {
        if (result.errors) {
          reject(new Error(JSON.stringify(result.errors)));
          return;
        }
        console.log(JSON.stringify(result.data.subprocessorChanges));
        received += 1;
        if (received === count) {
          unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    },
  );
});
clearTimeout(timeout);
await client.dispose();
process.exit(0);
