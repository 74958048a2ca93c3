// Runs the graphql-http GraphQL-over-HTTP audit against a server and fails on any error or
// warning. Usage: node audit.mjs http://127.0.0.1:8080/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
let failed = 0;
for (const result of results) {
  if (result.status === 'ok') {
    console.log(`ok      ${result.name}`);
  } else {
    failed += 1;
    console.log(`${result.status.padEnd(7)} ${result.name}: ${result.reason}`);
  }
}
console.log(`\n${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
